"""The Flask app under gunicorn, with the embedded platform's command line (flightdelay/embedded/web.py).

Reusing FlaskApp.command() keeps the worker class, threads and timeouts identical in both ways of
running the platform; compose sets WEB_HOST=0.0.0.0 so the published port reaches it.
"""

from __future__ import annotations

import os

from flightdelay.embedded.web import FlaskApp
from flightdelay.settings import get_settings


def main() -> None:
    app = FlaskApp(get_settings())
    command = app.command()
    os.execve(command[0], command, {**os.environ, **app.environment()})


if __name__ == "__main__":
    main()
