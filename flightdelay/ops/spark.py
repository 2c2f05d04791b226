"""The Spark standalone cluster as its clients see it: where pyspark's Spark is, the environment
spark-submit and the Python workers need, the Kafka connector jars, and the master's JSON status
(the one client of it: the embedded rows, the deploy DAG's hook and the probes all read it here).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import requests

from flightdelay.ops.jvm import class_archive, class_sharing, complete_archive, jar_dir, java_home
from flightdelay.settings import Settings


def spark_home() -> Path:
    import pyspark

    home = Path(pyspark.__file__).resolve().parent
    if not (home / "jars").is_dir() and os.environ.get("SPARK_HOME"):
        return Path(os.environ["SPARK_HOME"])  # a driver under spark-submit imports pyspark from a zip
    return home


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
        "SPARK_CONF_DIR": str(conf_dir(settings)),
        "HADOOP_USER_NAME": settings.hdfs_user,
    }


def conf_dir(settings: Settings) -> Path:
    """spark-defaults.conf and log4j2.properties, written by the embedded master and workers."""
    return settings.var_dir / "spark" / "conf"


def sharing_environment(settings: Settings) -> dict[str, str]:
    """spark_environment for a JVM that shares its classes (the daemons, the scorer): the JVM
    refuses a non-empty folder on the classpath, and spark-class always puts SPARK_CONF_DIR there,
    so it points at an empty folder; these JVMs name their config files by path instead."""
    if settings.class_archive_dir is None:
        return spark_environment(settings)
    empty = settings.var_dir / "spark" / "classpath"
    empty.mkdir(parents=True, exist_ok=True)
    return {**spark_environment(settings), "SPARK_CONF_DIR": str(empty)}


def sharing_class_path(settings: Settings) -> str:
    """The classpath spark-class and the workers give a JVM under sharing_environment."""
    return f"{sharing_environment(settings)['SPARK_CONF_DIR']}:{spark_home()}/jars/*"


def sharing_java_options(settings: Settings, name: str, on_request: bool = False) -> list[str]:
    """The log config by path, and the class archive ``name`` of a JVM that spark-class or a
    worker starts (see jvm.class_sharing for ``on_request``)."""
    if settings.class_archive_dir is None:
        return []  # SPARK_CONF_DIR is the config folder itself (sharing_environment)
    log_config = conf_dir(settings) / "log4j2.properties"
    options = [f"-Dlog4j2.configurationFile={log_config}"] if log_config.exists() else []
    java = Path(java_home(settings)) / "bin" / "java"
    return options + class_sharing(settings.class_archive_dir, name, java, sharing_class_path(settings), on_request)


def missing_class_archive(settings: Settings, name: str) -> Path | None:
    """Where a JVM of sharing_java_options(name, on_request=True) should dump its classes; None
    when sharing is off or the archive is there."""
    if settings.class_archive_dir is None:
        return None
    java = Path(java_home(settings)) / "bin" / "java"
    archive = class_archive(settings.class_archive_dir, name, java, sharing_class_path(settings))
    return None if complete_archive(archive) else archive


def kafka_connector_jars(settings: Settings) -> list[str]:
    """The spark-sql-kafka connector and its dependencies, resolved by `make install`."""
    return sorted(str(p) for p in jar_dir(settings, "spark-kafka").glob("*.jar"))


def master_json(ui_url: str, timeout: float = 2.0) -> dict:
    """The master's status page as JSON (``/json/``): status, workers, active applications."""
    reply = requests.get(f"{ui_url.rstrip('/')}/json/", timeout=timeout)
    reply.raise_for_status()
    return reply.json()


def master_state(settings: Settings) -> dict:
    return master_json(settings.spark_master_ui_url)


def running_apps(state: dict, name: str | None = None) -> list[dict]:
    """The active applications of a master status, only those called ``name`` if given."""
    return [a for a in state.get("activeapps", []) if name is None or a.get("name") == name]


def alive_workers(state: dict) -> list[dict]:
    return [w for w in state.get("workers", []) if w.get("state") == "ALIVE"]


def master_problem(settings: Settings) -> str | None:
    """Health of the master: None when it says ALIVE."""
    status = master_state(settings).get("status")
    return None if status == "ALIVE" else f"master status {status}"


def worker_problem(settings: Settings, ui_port: int) -> str | None:
    """Health of the worker whose UI is on ``ui_port``: None when the master lists it ALIVE."""
    for worker in alive_workers(master_state(settings)):
        if worker.get("webuiaddress", "").endswith(f":{ui_port}"):
            return None
    return "not registered with the master yet"
