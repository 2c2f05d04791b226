"""Spark standalone: one master and two workers (1 core each), started with `spark-class` from the
pyspark package in the project's virtual environment.

What clients need (the environment, the connector jars, the master's JSON status and the probes)
is in flightdelay/ops/spark.py; this module keeps the daemons' rows.
"""

from __future__ import annotations

from pathlib import Path

from flightdelay.ops import spark
from flightdelay.ops.errors import NotInstalledError
from flightdelay.ops.hdfs import CLIENT_CONFIG
from flightdelay.ops.service import Service
from flightdelay.ops.spark import spark_home
from flightdelay.settings import Settings


class _SparkDaemon(Service):
    main_class = ""
    start_timeout = 60.0

    @property
    def spark_class(self) -> Path:
        return spark_home() / "bin" / "spark-class"

    def check_installed(self) -> None:
        if not self.spark_class.exists():
            raise NotInstalledError(f"{self.spark_class} is missing: run `make install` (pyspark)")

    def environment(self) -> dict[str, str]:
        options = " ".join(spark.sharing_java_options(self.settings, self.name))
        return {**spark.sharing_environment(self.settings), "SPARK_DAEMON_JAVA_OPTS": options}

    def prepare(self) -> None:
        conf = spark.conf_dir(self.settings)
        conf.mkdir(parents=True, exist_ok=True)
        (conf / "log4j2.properties").write_text(
            "rootLogger.level = warn\nrootLogger.appenderRef.stdout.ref = console\n"
            "appender.console.type = Console\nappender.console.name = console\n"
            "appender.console.layout.type = PatternLayout\n"
            "appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n\n"
            "logger.master.name = org.apache.spark.deploy\nlogger.master.level = info\n"
        )
        # every application's HDFS client (checkpoints, models, prediction files) writes with
        # replication 1 and closes small files without the default 400 ms first retry
        defaults = "".join(f"spark.hadoop.{key} {value}\n" for key, value in CLIENT_CONFIG.items())
        # executors find no config on their classpath (see ops.spark.sharing_environment)
        defaults += f"spark.executor.extraJavaOptions -Dlog4j2.configurationFile={conf / 'log4j2.properties'}\n"
        (conf / "spark-defaults.conf").write_text(defaults)


class SparkMaster(_SparkDaemon):
    name = "spark-master"
    description = "Spark standalone master (7077, UI 8082)"

    @property
    def home(self) -> Path:
        return self.settings.var_dir / "spark" / "master"

    def ports(self) -> list[int]:
        return [self.settings.spark_master_port, self.settings.spark_master_ui_port]

    def command(self) -> list[str]:
        s = self.settings
        return [
            str(self.spark_class),
            "org.apache.spark.deploy.master.Master",
            "--host", s.spark_master_host,
            "--port", str(s.spark_master_port),
            "--webui-port", str(s.spark_master_ui_port),
        ]  # fmt: skip

    def probe(self) -> str | None:
        return spark.master_problem(self.settings)


class SparkWorker(_SparkDaemon):
    description = "Spark standalone worker (1 core)"
    depends_on = ("spark-master",)

    def __init__(self, settings: Settings, index: int):
        super().__init__(settings)
        self.index = index
        self.name = f"spark-worker-{index + 1}"

    @property
    def home(self) -> Path:
        return self.settings.var_dir / "spark" / self.name

    @property
    def ui_port(self) -> int:
        return self.settings.spark_worker_ui_ports[self.index]

    def ports(self) -> list[int]:
        return [self.ui_port]

    def command(self) -> list[str]:
        s = self.settings
        return [
            str(self.spark_class),
            "org.apache.spark.deploy.worker.Worker",
            "--host", s.spark_master_host,
            "--cores", str(s.spark_worker_cores),
            "--memory", s.spark_worker_memory,
            "--webui-port", str(self.ui_port),
            "--work-dir", str(self.home / "work"),
            s.spark_master_url,
        ]  # fmt: skip

    def probe(self) -> str | None:
        return spark.worker_problem(self.settings, self.ui_port)


def cluster_services(settings: Settings) -> list[Service]:
    return [SparkMaster(settings), *(SparkWorker(settings, i) for i in range(len(settings.spark_worker_ui_ports)))]
