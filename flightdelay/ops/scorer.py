"""The launcher of the streaming scorer: its driver (the app, spark_apps/score_stream.py) as a
managed background process, with its spark-submit line and its health.

The `flight_delay_streaming` DAG deploys it in either deployment (through this module, so there is
never a second instance); the embedded platform lists it as its `score-stream` row, so a plain
`flightdelay up` starts it too once a model is promoted (a warm restart of the platform then needs
no DAG run), and `flightdelay up score-stream` starts it by hand.
`down` and `status` treat it like every other service. Healthy means: the Spark master lists the
application as RUNNING and the driver's heartbeat says its query is running.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Callable

from flightdelay.ops import spark
from flightdelay.ops.errors import ServiceError
from flightdelay.ops.jvm import idle_heap_options
from flightdelay.ops.service import Service
from flightdelay.ops.spark import kafka_connector_jars
from flightdelay.settings import PROJECT_ROOT, Settings

APP_NAME = "score_stream"
APP_FILE = PROJECT_ROOT / "spark_apps" / "score_stream.py"
EXECUTOR_ARCHIVE = "score-stream-executor"


def running_apps(settings: Settings) -> list[dict]:
    """The scorer's applications the Spark master lists (RUNNING or waiting)."""
    return spark.running_apps(spark.master_state(settings), APP_NAME)


class ScoreStream(Service):
    name = "score-stream"
    description = "Spark Structured Streaming scorer (requests -> predictions)"
    depends_on = ("kafka", "ferretdb", "hdfs-datanode", "spark-worker-1", "spark-worker-2")
    start_timeout = 240.0
    stop_timeout = 60.0
    _recovering = False  # set while the supervisor's restart runs (see recover)

    def start_with_platform(self, log: Callable[[str], None] = print) -> bool:
        """`up` brings the scorer back once a model is promoted; before that the bootstrap trains
        the first model and the flight_delay_streaming DAG deploys the scorer."""
        if self.pid() is None and self._current_model() is None:
            log(f"  {self.name}: no promoted model yet: `flightdelay bootstrap` trains one and deploys it")
            return False
        return self.start(log)

    def _current_model(self) -> dict | None:
        from pymongo import MongoClient
        from pymongo.errors import PyMongoError

        from flightdelay.model.registry import ModelRegistry

        try:
            with MongoClient(self.settings.mongo_uri, serverSelectionTimeoutMS=5000) as client:
                return ModelRegistry(client[self.settings.mongo_database], self.settings).current()
        except PyMongoError as exc:
            raise ServiceError(f"cannot read the model registry: {type(exc).__name__}: {exc}") from exc

    @property
    def heartbeat_file(self) -> Path:
        return self.home / "heartbeat.json"

    def ports(self) -> list[int]:
        return [self.settings.scorer_metrics_port]  # the driver's /metrics

    def check_installed(self) -> None:
        kafka_connector_jars(self.settings)

    def environment(self) -> dict[str, str]:
        return spark.sharing_environment(self.settings)

    @property
    def driver_max_records_file(self) -> Path:
        return self.home / "driver-max-records"

    def recover(self, seen_pid: int | None, log: Callable[[str], None] = print) -> bool:
        """The supervisor's restart brings the scorer back splitting batches between the driver
        and the executors as before (the SCORER_DRIVER_MAX_RECORDS of whoever started it last, a
        benchmark's say, not the supervisor's own)."""
        self._recovering = True
        try:
            return super().recover(seen_pid, log)
        finally:
            self._recovering = False

    def driver_max_records(self) -> int:
        if self._recovering and self.driver_max_records_file.exists():
            with contextlib.suppress(ValueError):  # an unreadable file: the settings decide
                return int(self.driver_max_records_file.read_text())
        return self.settings.scorer_driver_max_records

    def prepare(self) -> None:
        self.heartbeat_file.unlink(missing_ok=True)
        self.driver_max_records_file.write_text(str(self.driver_max_records()))

    def command(self) -> list[str]:
        """spark-submit with the defaults file and the JVMs' options named explicitly: its
        SPARK_CONF_DIR is the empty one of class-data sharing (a restart's driver starts in about
        half the time, and its new executor sooner)."""
        s = self.settings
        defaults = spark.conf_dir(s) / "spark-defaults.conf"
        # a scorer idle after a burst gives its heap back, as the platform's own JVMs do
        driver_options = " ".join([*idle_heap_options(), *spark.sharing_java_options(s, "score-stream-driver")])
        # an executor is killed 10 s after its app ends, too soon to write its archive at exit: the
        # driver has it dump its classes once it is warm (scoring.kafka_reads.record_executor_classes)
        executor_options = " ".join(
            [*idle_heap_options(), *spark.sharing_java_options(s, EXECUTOR_ARCHIVE, on_request=True)]
        )
        return [
            str(Path(sys.executable).parent / "spark-submit"),
            *(["--properties-file", str(defaults)] if defaults.exists() else []),
            *(["--driver-java-options", driver_options] if driver_options else []),
            *(["--conf", f"spark.executor.extraJavaOptions={executor_options}"] if executor_options else []),
            "--master", s.spark_master_url,
            "--name", APP_NAME,
            "--jars", ",".join(kafka_connector_jars(s)),
            "--driver-memory", "1g",
            "--executor-memory", "1g",
            "--conf", f"spark.cores.max={s.scorer_cores}",  # 1: the other worker stays free for training
            "--conf", "spark.streaming.stopGracefullyOnShutdown=true",
            str(APP_FILE),
            "--heartbeat", str(self.heartbeat_file),
            "--driver-max-records", str(self.driver_max_records()),
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
