"""The Spark standalone cluster as its clients see it: where pyspark's Spark is, the environment
spark-submit and the Python workers need, the Kafka connector jars, and the master's JSON status
(the one client of it: the embedded rows, the deploy DAG's hook and the probes all read it here).
"""

from __future__ import annotations

import sys
from pathlib import Path

import requests

from flightdelay.ops.jvm import jar_dir, java_home
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
