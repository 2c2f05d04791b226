"""Apache NiFi 2.3.0: UI and REST API on https://127.0.0.1:8443/nifi, the prediction flow provisioned.

The service row only: its configuration, secrets and java command are flightdelay/nifi/config.py.
Once healthy, the user gets rights on the root process group and the flow in
nifi/prediction_flow.json is applied (flightdelay/nifi/flow.py); before a stop, the flow's sources
are stopped. Details: nifi/README.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from flightdelay.nifi.client import NiFiClient
from flightdelay.nifi.config import NIFI_VERSION, NiFiConfig, management_port
from flightdelay.nifi.flow import apply_flow, grant_admin_policies, stop_sources
from flightdelay.ops.service import Service
from flightdelay.settings import Settings


class NiFi(Service):
    name = "nifi"
    description = "Apache NiFi 2.3.0 (UI + REST 8443), prediction flow Kafka -> files + HDFS"
    # not HDFS: its HDFS writer retries until WebHDFS answers, so NiFi, the slowest service to
    # start, need not wait for the NameNode and the DataNode (~40 s of a cold start)
    depends_on = ("kafka",)
    # a cold start unpacks ~170 MB of NARs and starts Spring + Jersey on 2 busy cores
    start_timeout = 300.0
    stop_timeout = 60.0

    def __init__(self, settings: Settings):
        super().__init__(settings)
        self.config = NiFiConfig(settings)
        self._client: NiFiClient | None = None

    @property
    def home(self) -> Path:
        return self.config.home

    @property
    def diagnostic_log(self) -> Path:
        return self.config.log_dir / "nifi-app.log"  # NiFi logs there, hardly anything on stdout

    def ports(self) -> list[int]:
        return [self.settings.nifi_port, management_port(self.settings)]

    def check_installed(self) -> None:
        self.config.check_installed()

    def environment(self) -> dict[str, str]:
        return self.config.environment()

    def command(self) -> list[str]:
        return self.config.command()

    def prepare(self) -> None:
        self.config.write_all()

    def probe(self) -> str | None:
        about = self.client().get("/flow/about")["about"]
        if about.get("version") != NIFI_VERSION:
            return f"unexpected NiFi version {about.get('version')}"
        return None

    def after_healthy(self) -> None:
        client = self.client()
        grant_admin_policies(client, self.settings.nifi_user)
        apply_flow(self.settings, client=client, log=lambda line: None)

    def stop(self, log: Callable[[str], None] = print) -> bool:
        """Stop the flow's sources first, so they commit what NiFi has already stored; then the JVM."""
        if self.pid() is not None:
            try:
                stop_sources(self.settings, client=self.client())
            except Exception as exc:  # NiFi half up or hung: SIGTERM still shuts it down safely
                log(f"  {self.name}: could not stop the flow's sources first ({type(exc).__name__}: {exc})")
        self._client = None
        return super().stop(log)

    def client(self) -> NiFiClient:
        if self._client is None:
            self._client = NiFiClient.for_settings(self.settings)
        return self._client
