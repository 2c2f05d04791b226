"""The Flask front end under gunicorn, bound to WEB_HOST:WEB_PORT (127.0.0.1:5001 by default).

gthread workers: each Server-Sent Events stream holds one thread while it waits (at most
``stream_timeout_s``), so one worker with many threads serves the page, the JSON routes and the
open streams. One worker also means one response listener and one cache. Healthy means
GET /healthz answers 200, i.e. the app reaches Kafka and MongoDB.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from pathlib import Path

from flightdelay.embedded.base import NotInstalledError, Service

WSGI_APP = "flightdelay.web.wsgi:app"
WORKERS = 1
THREADS = 32


class FlaskApp(Service):
    name = "web"
    description = "Flask front end (gunicorn, gthread workers)"
    depends_on = ("kafka", "ferretdb")
    start_timeout = 60.0
    stop_timeout = 15.0

    @property
    def gunicorn(self) -> Path:
        return Path(sys.executable).parent / "gunicorn"

    @property
    def url(self) -> str:
        return f"http://{self.settings.web_host}:{self.settings.web_port}"

    def ports(self) -> list[int]:
        return [self.settings.web_port]

    def check_installed(self) -> None:
        if not self.gunicorn.exists():
            raise NotInstalledError(f"{self.gunicorn} is missing: run `make install`")

    def command(self) -> list[str]:
        return [
            str(self.gunicorn),
            "--bind", f"{self.settings.web_host}:{self.settings.web_port}",
            "--worker-class", "gthread",
            "--workers", str(WORKERS),
            "--threads", str(THREADS),
            # the worker heartbeat, not a request limit: long SSE streams are fine with gthread
            "--timeout", "60",
            "--graceful-timeout", "10",
            "--keep-alive", "5",
            "--access-logfile", "-",
            "--error-logfile", "-",
            "--capture-output",
            # pid file and signals manage it (flightdelay down); no socket under ~/.gunicorn
            "--no-control-socket",
            WSGI_APP,
        ]  # fmt: skip

    def environment(self) -> dict[str, str]:
        return {"PYTHONUNBUFFERED": "1"}

    def probe(self) -> str | None:
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=5) as reply:
                return None if reply.status == 200 else f"/healthz answered HTTP {reply.status}"
        except urllib.error.HTTPError as exc:
            try:
                report = json.loads(exc.read())
                down = [k for k in ("kafka", "mongodb") if not report.get(k, {}).get("ok")]
                return f"/healthz answered {exc.code}: {', '.join(down) or 'unknown'} unreachable"
            except ValueError:
                return f"/healthz answered HTTP {exc.code}"
