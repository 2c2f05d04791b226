"""Spark standalone: one master and two workers (1 core each), started with `spark-class` from the
pyspark package in the project's virtual environment.

The Kafka connector jars the streaming job needs are resolved by `make install`
(java/spark-kafka/pom.xml into build/jars/spark-kafka) and passed to spark-submit; nothing is
downloaded at run time.
"""

from __future__ import annotations

import sys
from pathlib import Path

import requests

from flightdelay.embedded.base import NotInstalledError, Service, java_home
from flightdelay.embedded.hdfs import CLIENT_CONFIG
from flightdelay.embedded.jvm import jar_dir
from flightdelay.settings import Settings


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def spark_environment(settings: Settings) -> dict[str, str]:
    """What spark-class, spark-submit and the Python workers need to find the same Spark and Python."""
    return {
        "SPARK_HOME": str(spark_home()),
        "JAVA_HOME": java_home(settings),
        "SPARK_LOCAL_IP": settings.spark_master_host,
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        "SPARK_DAEMON_MEMORY": settings.spark_daemon_heap,
        "SPARK_LOG_DIR": str(settings.var_dir / "log"),
        "SPARK_CONF_DIR": str(settings.var_dir / "spark" / "conf"),
        "HADOOP_USER_NAME": settings.hdfs_user,
    }


def kafka_connector_jars(settings: Settings) -> list[str]:
    return sorted(str(p) for p in jar_dir(settings, "spark-kafka").glob("*.jar"))


def master_state(settings: Settings) -> dict:
    return requests.get(f"{settings.spark_master_ui_url}/json/", timeout=2).json()


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
        return spark_environment(self.settings)

    def prepare(self) -> None:
        conf = self.settings.var_dir / "spark" / "conf"
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
        state = master_state(self.settings).get("status")
        return None if state == "ALIVE" else f"master status {state}"


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
        for worker in master_state(self.settings).get("workers", []):
            if worker.get("webuiaddress", "").endswith(f":{self.ui_port}") and worker.get("state") == "ALIVE":
                return None
        return "not registered with the master yet"


def cluster_services(settings: Settings) -> list[Service]:
    return [SparkMaster(settings), *(SparkWorker(settings, i) for i in range(len(settings.spark_worker_ui_ports)))]
