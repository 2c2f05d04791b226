"""The store's pure parts: pushed-down query shapes, the index plan, generated PostgreSQL
passwords, and the PostgreSQL, FerretDB and Airflow service rows that use them."""

from __future__ import annotations

import json
import signal
import stat
from datetime import datetime

import pytest
from bson import ObjectId

from flightdelay.embedded.airflow import AirflowApiServer, airflow_environment
from flightdelay.embedded.ferretdb import FerretDB
from flightdelay.embedded.platform import all_services, waves
from flightdelay.embedded.postgres import PostgreSQL
from flightdelay.ops.errors import ServiceError
from flightdelay.secrets import generated_secrets
from flightdelay.settings import Settings
from flightdelay.store import postgres
from flightdelay.store.indexes import INDEX_PLAN, gin_index_name
from flightdelay.store.queries import (
    PLATFORM_QUERIES,
    by_id,
    flights_on,
    predictions_scored_on,
    pushed_down,
    with_status,
)
from flightdelay.store.retention import scored_day


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    monkeypatch.setenv("FLIGHTDELAY_VAR_DIR", str(tmp_path))
    for name in ("POSTGRES_PASSWORD", "MONGO_BACKEND", "AIRFLOW_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    return Settings()


# --- query shapes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        by_id("3f2c"),
        predictions_scored_on("2026-12-01"),
        flights_on("2013-01-01"),
        with_status("current"),
        {"n": 3},
        {"x": 1.5, "flag": True},
        {"_id": ObjectId()},
        {"when": datetime(2026, 1, 1)},
        {"a": {"$eq": "b"}},
    ],
)
def test_equality_on_top_level_scalars_is_pushed_down(query):
    assert pushed_down(query)


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"_id": {"$in": ["a", "b"]}},
        {"ScoredAt": {"$lt": "2026-11-01"}},
        {"$or": [{"a": 1}, {"b": 2}]},
        {"tags": ["a"]},
        {"doc": {"nested": 1}},
        {"a.b": 1},
        {"a": None},
        {"a": {"$eq": "b", "$ne": "c"}},
    ],
)
def test_other_shapes_are_not(query):
    assert not pushed_down(query)


def test_every_platform_query_is_pushed_down_and_indexed_by_the_plan(settings):
    indexed = {plan.collection_setting: set(plan.filtered_by) for plan in INDEX_PLAN}
    for query in PLATFORM_QUERIES:
        assert pushed_down(query.example), query.purpose
        assert set(query.example) <= indexed[query.collection_setting], query.purpose


def test_index_names_fit_postgresql():
    longest_table = "t" * 63
    assert len(gin_index_name(longest_table, "ScoredDay")) <= 63
    assert gin_index_name("a", "UUID") != gin_index_name("a", "_id")


def test_scored_day_is_the_utc_date_of_scored_at():
    assert scored_day("2026-12-01T23:59:59.5+00:00") == "2026-12-01"


# --- generated passwords ------------------------------------------------------------------------------


def test_postgres_passwords_are_generated_once_private_and_distinct(settings):
    first = postgres.passwords(settings)
    path = settings.secrets_dir / "postgres.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert set(first) == set(postgres.ROLES) and len(set(first.values())) == 3
    assert postgres.passwords(settings) == first
    url = postgres.url(settings, postgres.FERRETDB)
    assert url.startswith("postgresql://ferretdb:") and url.endswith("@127.0.0.1:5432/ferretdb")


def test_a_configured_secret_wins_and_is_written_back(tmp_path):
    path = tmp_path / "s.json"
    generated_secrets(path, {"a": lambda: "made", "b": lambda: "made"})
    kept = generated_secrets(path, {"a": lambda: "other", "b": lambda: "other"}, configured={"a": "given", "b": ""})
    assert kept == {"a": "given", "b": "made"}
    assert json.loads(path.read_text()) == kept


# --- service rows -----------------------------------------------------------------------------------


def test_postgres_runs_as_its_own_user_on_loopback_with_a_socket_under_var(settings, monkeypatch):
    monkeypatch.setattr("flightdelay.embedded.postgres._as_root", lambda: True)
    service = PostgreSQL(settings)
    command = service.command()
    assert command[:3] == ["setpriv", "--reuid=postgres", "--regid=postgres"]
    assert "listen_addresses=127.0.0.1" in command and "port=5432" in command
    assert f"unix_socket_directories={settings.var_dir / 'postgres' / 'cluster' / 'socket'}" in command
    assert service.stop_signal == signal.SIGINT  # SIGTERM would wait for every client to leave


def test_ferretdb_on_postgresql_by_default_with_its_url_out_of_the_command_line(settings):
    service = FerretDB(settings)
    assert "-handler=postgresql" in service.command()
    assert service.depends_on == ("postgres",)
    # no login in FerretDB's URL: each MongoDB client brings its own (tests/unit/test_service_config.py)
    assert service.environment()["FERRETDB_POSTGRESQL_URL"] == "postgres://127.0.0.1:5432/ferretdb"
    assert not any(postgres.passwords(settings)[postgres.FERRETDB] in part for part in service.command())


def test_ferretdb_on_sqlite_needs_no_postgres(settings, monkeypatch):
    monkeypatch.setenv("MONGO_BACKEND", "sqlite")
    service = FerretDB(Settings())
    assert "-handler=sqlite" in service.command()
    assert service.depends_on == () and service.environment() == {}


def test_ferretdb_refuses_to_hide_sqlite_era_data(settings):
    service = FerretDB(settings)
    service.sqlite_dir.mkdir(parents=True)
    (service.sqlite_dir / "agile_data_science.sqlite").write_bytes(b"")
    with pytest.raises(ServiceError, match="MONGO_BACKEND=sqlite make up"):
        service.prepare()


def test_airflow_metadata_lives_in_postgres(settings):
    env = airflow_environment(settings)
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://airflow:")
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("@127.0.0.1:5432/airflow")


def test_airflow_refuses_a_sqlite_era_database_with_the_command_that_moves_it(settings):
    service = AirflowApiServer(settings)
    service.home.mkdir(parents=True)
    (service.home / "airflow.db").write_bytes(b"")
    with pytest.raises(ServiceError, match=r"mv .*airflow\.db .*airflow\.db\.sqlite-era && make up"):
        service.prepare()


def test_postgres_starts_first_and_its_users_wait_for_it(settings):
    first_wave = {service.name for service in waves(all_services(settings))[0]}
    assert "postgres" in first_wave
    assert "ferretdb" not in first_wave and "airflow-api-server" not in first_wave
