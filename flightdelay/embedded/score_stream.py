"""The streaming scorer's driver (spark_apps/score_stream.py) as a managed background process.

Not started by a plain `flightdelay up`: the `flight_delay_streaming` DAG deploys it (through this
module, so there is never a second instance), and `flightdelay up score-stream` starts it by hand.
`down` and `status` treat it like every other service. Healthy means: the Spark master lists the
application as RUNNING and the driver's heartbeat says its query is running.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from flightdelay.embedded.base import Service
from flightdelay.embedded.spark import kafka_connector_jars, master_state, spark_environment
from flightdelay.settings import PROJECT_ROOT

APP_NAME = "score_stream"


def running_apps(settings, name: str = APP_NAME) -> list[dict]:
    return [a for a in master_state(settings).get("activeapps", []) if a.get("name") == name]


class ScoreStream(Service):
    name = "score-stream"
    description = "Spark Structured Streaming scorer (requests -> predictions)"
    depends_on = ("kafka", "ferretdb", "hdfs-datanode", "spark-worker-1", "spark-worker-2")
    autostart = False
    start_timeout = 240.0
    stop_timeout = 60.0

    @property
    def heartbeat_file(self) -> Path:
        return self.home / "heartbeat.json"

    def ports(self) -> list[int]:
        return []

    def check_installed(self) -> None:
        kafka_connector_jars(self.settings)

    def environment(self) -> dict[str, str]:
        return spark_environment(self.settings)

    def prepare(self) -> None:
        self.heartbeat_file.unlink(missing_ok=True)

    def command(self) -> list[str]:
        s = self.settings
        return [
            str(Path(sys.executable).parent / "spark-submit"),
            "--master", s.spark_master_url,
            "--name", APP_NAME,
            "--jars", ",".join(kafka_connector_jars(s)),
            "--driver-memory", "1g",
            "--executor-memory", "1g",
            "--conf", "spark.cores.max=1",  # the other worker stays free for training and batch jobs
            "--conf", "spark.streaming.stopGracefullyOnShutdown=true",
            str(PROJECT_ROOT / "spark_apps" / "score_stream.py"),
            "--heartbeat", str(self.heartbeat_file),
        ]  # fmt: skip

    def heartbeat(self) -> dict:
        try:
            return json.loads(self.heartbeat_file.read_text())
        except (FileNotFoundError, ValueError):
            return {}

    def probe(self) -> str | None:
        apps = running_apps(self.settings)
        if not any(a.get("state") == "RUNNING" for a in apps):
            return "no RUNNING score_stream application on the Spark master"
        state = self.heartbeat().get("state")
        return None if state == "running" else f"driver: {state or 'starting'}"
