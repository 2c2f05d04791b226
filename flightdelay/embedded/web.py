"""The Flask front end as a row of the embedded platform: gunicorn as ``flightdelay.ops.web``
runs it (worker class, threads, stream slots and why are explained there)."""

from __future__ import annotations

from flightdelay.ops import web
from flightdelay.ops.errors import NotInstalledError
from flightdelay.ops.service import Service


class FlaskApp(Service):
    name = "web"
    description = "Flask front end (gunicorn, gthread workers)"
    depends_on = ("kafka", "ferretdb")
    start_timeout = 60.0
    stop_timeout = 15.0

    @property
    def url(self) -> str:
        return web.url(self.settings)

    def ports(self) -> list[int]:
        return [self.settings.web_port]

    def check_installed(self) -> None:
        if not web.gunicorn().exists():
            raise NotInstalledError(f"{web.gunicorn()} is missing: run `make install`")

    def command(self) -> list[str]:
        return web.gunicorn_command(self.settings)

    def environment(self) -> dict[str, str]:
        return dict(web.ENVIRONMENT)

    def probe(self) -> str | None:
        return web.healthz_problem(self.settings)
