"""The Flask app under gunicorn, with the same command line as the embedded platform's web
(flightdelay/ops/web.py): the worker class, threads and timeouts are identical in both ways of
running the platform; compose sets WEB_HOST=0.0.0.0 so the published port reaches it.
"""

from __future__ import annotations

import os

from flightdelay.ops import web
from flightdelay.settings import get_settings


def main() -> None:
    command = web.gunicorn_command(get_settings())
    os.execve(command[0], command, {**os.environ, **web.ENVIRONMENT})


if __name__ == "__main__":
    main()
