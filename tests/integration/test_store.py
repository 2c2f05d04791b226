"""The MongoDB store on the real servers: PostgreSQL under FerretDB, the indexes the platform's
queries use (proved with explain on 100k documents), retention, logins, Airflow's metadata."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sqlite3
import stat
import uuid
from datetime import date, timedelta
from typing import Iterator

import psycopg2
import pytest
from pymongo import MongoClient
from pymongo.database import Database

from flightdelay.embedded.ferretdb import FerretDB
from flightdelay.settings import Settings
from flightdelay.store import postgres
from flightdelay.store.indexes import INDEX_PLAN, ensure_indexes, ferretdb_tables, gin_index_name
from flightdelay.store.queries import PLATFORM_QUERIES, by_id, pushed_down
from flightdelay.store.retention import delete_expired_predictions, record_history_days, trim_history
from flightdelay.waiting import WaitTimeout, wait_until

pytestmark = pytest.mark.integration

BIG = 100_000


@pytest.fixture(scope="module")
def client(settings) -> Iterator[MongoClient]:
    with MongoClient(settings.mongo_uri, serverSelectionTimeoutMS=10_000) as mongo:
        yield mongo


@pytest.fixture
def scratch(client, settings) -> Iterator[Database]:
    name = f"test_store_{uuid.uuid4().hex[:10]}"
    db = client[name]
    ensure_indexes(db, settings, log=lambda line: None)
    yield db
    client.drop_database(name)


def _fill(collection, count: int, make) -> None:
    for start in range(0, count, 20_000):
        collection.insert_many([make(i) for i in range(start, min(count, start + 20_000))], ordered=False)


def _document(i: int) -> dict:
    """One shape for every collection: each platform query's field, mostly distinct values."""
    key = f"{i:08d}-{uuid.uuid4().hex[:8]}"
    return {
        "_id": key,
        "UUID": key,
        "ScoredDay": f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}",
        "FlightDate": f"2013-{1 + i % 12:02d}-{1 + i % 28:02d}",
        "status": "retired",
        "Origin": "JFK",
        "Dest": "LAX",
    }


def _plan_nodes(plan: dict) -> Iterator[dict]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _plan_nodes(child)


def test_every_platform_query_is_served_by_an_index_at_100k_documents(scratch, settings):
    for name in {query.collection_setting for query in PLATFORM_QUERIES}:
        _fill(scratch[getattr(settings, name)], BIG, _document)
    tables = ferretdb_tables(settings, scratch.name)
    with postgres.connect(settings, postgres.FERRETDB) as connection, connection.cursor() as cursor:
        for table in tables.values():
            cursor.execute(f'ANALYZE "{scratch.name}"."{table}"')  # as autovacuum would, soon after

    for query in PLATFORM_QUERIES:
        collection = getattr(settings, query.collection_setting)
        assert pushed_down(query.example), query.purpose
        explained = scratch.command("explain", {"find": collection, "filter": query.example})
        assert explained["filterPushdown"] is True, f"{query.purpose}: not pushed down"
        nodes = list(_plan_nodes(explained["queryPlanner"]["Plan"]))
        kinds = [node["Node Type"] for node in nodes]
        assert "Seq Scan" not in kinds, f"{query.purpose}: {kinds}"
        used = {node.get("Index Name") for node in nodes} - {None}
        field = next(iter(query.example))
        assert gin_index_name(tables[collection], field) in used, f"{query.purpose}: {kinds} {used}"


def test_an_index_made_after_queries_ran_serves_them_at_once(scratch, settings):
    """FerretDB's pooled connections keep prepared statements: a cached generic plan would
    never use an index created later (plan_cache_mode = force_custom_plan prevents it)."""
    collection = scratch["late_index"]
    _fill(collection, 20_000, lambda i: {"_id": i, "Tag": f"t{i}"})
    for i in range(12):  # past the 5 custom plans after which PostgreSQL may switch to a generic one
        assert collection.find_one({"Tag": f"t{i}"})["_id"] == i
    table = ferretdb_tables(settings, scratch.name)["late_index"]
    index = gin_index_name(table, "Tag")
    with postgres.connect(settings, postgres.FERRETDB) as connection, connection.cursor() as cursor:
        cursor.execute(
            f'CREATE INDEX "{index}" ON "{scratch.name}"."{table}" USING gin ((_jsonb -> \'Tag\') jsonb_path_ops)'
        )
        cursor.execute(f'ANALYZE "{scratch.name}"."{table}"')
        for i in range(12):
            assert collection.find_one({"Tag": f"t{i}"})["_id"] == i
        scans = 0

        def all_scans_counted() -> str | None:
            nonlocal scans
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute("SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = %s", (index,))
            (scans,) = cursor.fetchone()
            return f"{scans} index scans counted" if scans < 12 else None

        # FerretDB's connections report their statistics within ~1 s
        with contextlib.suppress(WaitTimeout):  # the assert below says it
            wait_until(all_scans_counted, f"12 scans of {index}", timeout=10, interval=0.5)
    assert scans >= 12


def test_retention_deletes_only_predictions_past_the_window(scratch, settings):
    today = date(2026, 12, 1)
    settings = dataclasses.replace(settings, predictions_retention_days=30)
    ages = {"ancient": 390, "old": 31, "edge": 30, "young": 1, "today": 0}
    predictions = scratch[settings.predictions_collection]
    predictions.insert_many(
        [{"_id": name, "ScoredDay": str(today - timedelta(days=age))} for name, age in ages.items()]
    )

    report = delete_expired_predictions(scratch, settings, today=today, log=lambda line: None)

    assert sorted(doc["_id"] for doc in predictions.find({})) == ["edge", "today", "young"]
    assert (report.deleted, report.days, report.cutoff) == (2, 2, "2026-11-01")


def _prediction(uuid_: str) -> dict:
    from flightdelay.contract import prediction_record

    row = {"UUID": uuid_, "Origin": "JFK", "Dest": "LAX", "Carrier": "AA", "FlightDate": "2026-12-02", "DepDelay": -3.0,
           "Distance": 2475.0, "DayOfWeek": 3, "Warnings": []}  # fmt: skip
    return prediction_record(row, 1.0, [0.1, 0.6, 0.2, 0.1], "v1", "2026-12-02T05:00:00+00:00", ["unseen route"], 0.52)


def _stored_row(settings: Settings, database: str, table: str, key: str) -> dict:
    import orjson

    with postgres.connect(settings, postgres.FERRETDB) as connection, connection.cursor() as cursor:
        cursor.execute(f'SELECT _jsonb::text FROM "{database}"."{table}" WHERE _jsonb -> \'_id\' @> %s::jsonb',
                       (orjson.dumps(key).decode(),))  # fmt: skip
        return orjson.loads(cursor.fetchone()[0])


def test_the_scorer_writes_a_prediction_exactly_as_ferretdb_stores_it(scratch, settings):
    """store.direct_writes writes FerretDB's own storage form: same values, same type schema."""
    from flightdelay.store.direct_writes import stored_form

    predictions = scratch[settings.predictions_collection]
    document = {"_id": "by-ferretdb", **_prediction("by-ferretdb"), "ScoredDay": "2026-12-02", "Count": 2**40}
    predictions.insert_one(dict(document))
    table = ferretdb_tables(settings, scratch.name)[settings.predictions_collection]

    import orjson

    assert orjson.loads(stored_form(document)) == _stored_row(settings, scratch.name, table, "by-ferretdb")


def test_the_scorers_direct_inserts_are_read_through_ferretdb_and_skip_replays(scratch, settings):
    from datetime import datetime, timezone

    from flightdelay.scoring.sinks import MongoSink

    settings = dataclasses.replace(settings, mongo_database=scratch.name)
    sink = MongoSink(settings)
    batch = [_prediction(f"direct-{n}") for n in range(3)]
    odd = {**_prediction("through-ferretdb"), "When": datetime(2026, 12, 2, tzinfo=timezone.utc)}  # a BSON date

    assert sink.insert(batch + [odd]) == 4
    assert sink.table is not None  # the direct path, not insert_many
    with sink.table.connection.cursor() as cursor:  # acknowledged means kept, even if the server crashes
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"
    assert sink.insert(batch + [odd]) == 0  # a replayed batch: every _id already there

    predictions = scratch[settings.predictions_collection]
    for record in batch:
        expected = {"_id": record["UUID"], **record, "ScoredDay": "2026-12-02"}
        assert predictions.find_one(by_id(record["UUID"])) == expected
    assert predictions.find_one(by_id("through-ferretdb"))["When"] == datetime(2026, 12, 2)
    assert predictions.count_documents({}) == 4


def test_direct_writes_can_be_turned_off(scratch, settings):
    from flightdelay.scoring.sinks import MongoSink

    sink = MongoSink(dataclasses.replace(settings, mongo_database=scratch.name, store_direct_writes=False))
    assert sink.insert([_prediction("plain")]) == 1
    assert sink.table is None


def test_a_whole_collection_count_from_the_table_agrees_with_ferretdb(scratch, settings):
    from flightdelay.store.bulk import count_all

    flights = scratch[settings.flights_collection]
    assert count_all(scratch, settings, settings.flights_collection) == 0  # no table yet
    _fill(flights, 1_234, _document)
    assert count_all(scratch, settings, settings.flights_collection) == flights.count_documents({}) == 1_234


def test_the_history_keeps_its_window(scratch, settings):
    settings = dataclasses.replace(settings, history_window_days=10)
    days = [str(date(2013, 1, 1) + timedelta(days=n)) for n in range(15)]
    scratch[settings.flights_collection].insert_many(
        [{"_id": f"{day}|{n}", "FlightDate": day} for day in days for n in range(3)]
    )
    record_history_days(scratch, settings, set(days))

    report = trim_history(scratch, settings, log=lambda line: None)

    kept = sorted({doc["FlightDate"] for doc in scratch[settings.flights_collection].find({})})
    assert kept == days[4:]  # the newest day is 2013-01-15: the window starts 2013-01-05
    assert (report.deleted, report.days) == (12, 4)
    assert sorted(doc["_id"] for doc in scratch[settings.history_days_collection].find({})) == days[4:]
    assert trim_history(scratch, settings, log=lambda line: None).deleted == 0


def test_postgres_refuses_a_wrong_password_and_keeps_its_secrets_private(settings):
    for role in postgres.ROLES:
        with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
            with postgres.connect(settings, role, password="not-the-password"):
                pass
    secrets_file = settings.secrets_dir / "postgres.json"
    assert stat.S_IMODE(os.stat(secrets_file).st_mode) == 0o600


def test_postgres_listens_on_loopback_only(settings):
    with postgres.connect(settings) as connection, connection.cursor() as cursor:
        cursor.execute("SHOW listen_addresses")
        assert cursor.fetchone()[0] == "127.0.0.1"
        cursor.execute("SELECT rolname FROM pg_roles WHERE rolname IN ('ferretdb', 'airflow') ORDER BY 1")
        assert [row[0] for row in cursor.fetchall()] == ["airflow", "ferretdb"]


def test_airflow_keeps_its_metadata_in_postgres(settings, airflow_client):
    airflow_client.get("/dags", params={"limit": 1})
    with postgres.connect(settings, postgres.AIRFLOW) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT dag_id FROM dag")
        dags = {row[0] for row in cursor.fetchall()}
    assert {"flight_data_import", "flight_delay_training", "store_retention"} <= dags
    assert not (settings.var_dir / "airflow" / "airflow.db").exists()


def test_the_platform_database_has_every_planned_index(client, settings):
    tables = ferretdb_tables(settings, settings.mongo_database)
    with postgres.connect(settings, postgres.FERRETDB) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE schemaname = %s", (settings.mongo_database,))
        present = {row[0] for row in cursor.fetchall()}
    for plan in INDEX_PLAN:
        table = tables[plan.name(settings)]
        for field in plan.filtered_by:
            assert gin_index_name(table, field) in present, f"{plan.name(settings)}.{field}"


def test_ferretdb_on_sqlite_looks_up_ids_with_an_index(tmp_path, settings):
    """SQLite stays selectable (MONGO_BACKEND=sqlite): there the _id look-up uses the expression
    index the platform adds, written as FerretDB's pushed-down filter."""
    tiny: Settings = dataclasses.replace(settings, var_dir=tmp_path, mongo_port=27117, mongo_backend="sqlite")
    server = FerretDB(tiny)
    server.start(log=lambda line: None)
    try:
        with MongoClient(tiny.mongo_uri, serverSelectionTimeoutMS=10_000) as mongo:
            db = mongo[settings.mongo_database]
            db[tiny.predictions_collection].insert_many([{"_id": f"id-{i}", "n": i} for i in range(1_000)])
            assert db[tiny.predictions_collection].find_one(by_id("id-7"))["n"] == 7
        database_file = tmp_path / "ferretdb" / "data" / f"{settings.mongo_database}.sqlite"
        with sqlite3.connect(database_file) as connection:
            (table,) = connection.execute(
                "SELECT table_name FROM _ferretdb_collections WHERE name = ?", (tiny.predictions_collection,)
            ).fetchone()
            plan = connection.execute(
                f"EXPLAIN QUERY PLAN SELECT _ferretdb_sjson FROM \"{table}\" WHERE _ferretdb_sjson->'$._id' = ?",
                ('"id-7"',),
            ).fetchall()
        assert any("USING INDEX" in row[-1] for row in plan), plan
    finally:
        server.stop(log=lambda line: None)
