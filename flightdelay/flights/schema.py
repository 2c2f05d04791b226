"""The canonical flight record every source is normalized to, and its validation.

A record has the fields of the book's flight features::

    FlightDate  "YYYY-MM-DD"            Carrier     e.g. "AA", "9E"
    DayOfWeek   1=Mon..7=Sun            FlightNum   digits as a string, e.g. "1545"
    DayOfMonth  1..31                   Origin/Dest 3-letter airport codes
    DayOfYear   1..366                  Distance    statute miles (float)
    CRSDepTime  scheduled hhmm (int)    DepDelay    minutes (float)
    CRSArrTime  scheduled hhmm (int)    ArrDelay    minutes (float)
    Route       "Origin-Dest"

``normalize_flight`` turns a raw row (canonical field names, any value types: strings, numbers,
NaN, None, ISO timestamps) into one of three outcomes and never raises on bad data:

- accepted: a clean record;
- excluded: a cancelled or diverted flight without an arrival delay (no label to learn from);
- rejected: a row that fails validation, with a short reason such as "bad FlightDate".

Reasons are few, stable strings so they can be counted; the offending value goes in ``detail``.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from enum import Enum
from functools import lru_cache
from typing import Any, TypedDict

CANONICAL_FIELDS: tuple[str, ...] = (
    "FlightDate",
    "DayOfWeek",
    "DayOfMonth",
    "DayOfYear",
    "Carrier",
    "FlightNum",
    "Origin",
    "Dest",
    "Distance",
    "CRSDepTime",
    "CRSArrTime",
    "DepDelay",
    "ArrDelay",
    "Route",
)

NATURAL_KEY_FIELDS: tuple[str, ...] = (
    "FlightDate",
    "Carrier",
    "FlightNum",
    "Origin",
    "Dest",
    "CRSDepTime",
)

# Bounds beyond which a value is a data error rather than a rare event. The import, its quality
# checks and the prediction request contract (flightdelay.contract) all take them from here.
MAX_ABS_DELAY_MINUTES = 24 * 60
MAX_DISTANCE_MILES = 6000.0  # the longest US route (e.g. JFK-HNL) is about 5,000 miles
EARLIEST_FLIGHT_DATE = date(1987, 1, 1)  # BTS on-time data starts in October 1987

# Field -> (lowest, highest) plausible value.
VALUE_RANGES: dict[str, tuple[float, float]] = {
    "DayOfWeek": (1, 7),
    "DayOfMonth": (1, 31),
    "DayOfYear": (1, 366),
    "Distance": (0.0, MAX_DISTANCE_MILES),
    "CRSDepTime": (0, 2400),
    "CRSArrTime": (0, 2400),
    "DepDelay": (-MAX_ABS_DELAY_MINUTES, MAX_ABS_DELAY_MINUTES),
    "ArrDelay": (-MAX_ABS_DELAY_MINUTES, MAX_ABS_DELAY_MINUTES),
}

AIRPORT_CODE = re.compile(r"^[A-Z0-9]{3}$")
CARRIER_CODE = re.compile(r"^[A-Z0-9]{2,3}$")
FLIGHT_NUMBER = re.compile(r"^[0-9]{1,5}$")
_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})(?:\s.*)?$")  # "1/31/2023 12:00:00 AM"
_MISSING_STRINGS = frozenset({"", "na", "nan", "null", "none", "nat", "<na>"})


class FlightRecord(TypedDict):
    FlightDate: str
    DayOfWeek: int
    DayOfMonth: int
    DayOfYear: int
    Carrier: str
    FlightNum: str
    Origin: str
    Dest: str
    Distance: float
    CRSDepTime: int
    CRSArrTime: int
    DepDelay: float
    ArrDelay: float
    Route: str


class Status(str, Enum):
    ACCEPTED = "accepted"
    EXCLUDED = "excluded"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Normalized:
    """The outcome of normalizing one raw row."""

    status: Status
    record: FlightRecord | None = None
    reason: str | None = None
    detail: str | None = None

    @property
    def accepted(self) -> bool:
        return self.status is Status.ACCEPTED


class _Invalid(Exception):
    """Internal: carries a rejection reason out of the field parsers."""

    def __init__(self, reason: str, value: Any = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = None if value is None else _describe(value)


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- value helpers (shared with the source readers) -------------------------------------------


def is_missing(value: Any) -> bool:
    """None, NaN, pandas NA/NaT, or an empty/"NA"-like string."""
    if value is None:
        return True
    value_type = type(value)
    if value_type is float:
        return value != value  # NaN is the only float not equal to itself
    if value_type is str:
        return value.strip().lower() in _MISSING_STRINGS
    if isinstance(value, float):  # numpy.float64 and friends
        return math.isnan(value)
    # pandas.NA / NaT, recognized without importing pandas.
    return value_type.__name__ in {"NAType", "NaTType"}


def parse_flag(value: Any) -> bool:
    """A BTS-style 0/1 flag ("1.00", 1.0, True, "true") as a bool; missing counts as false."""
    if is_missing(value):
        return False
    if isinstance(value, str):
        text = value.strip().lower()
        if text in {"true", "t", "yes", "y"}:
            return True
        try:
            return float(text) != 0.0
        except ValueError:
            return False
    try:
        return float(value) != 0.0
    except (TypeError, ValueError):
        return False


def parse_timestamp(text: str) -> datetime | None:
    """An ISO-8601 timestamp (with or without offset) in UTC, or None if it is not one."""
    if "T" not in text and " " not in text.strip():
        return None
    candidate = text.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(candidate)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def _latest_plausible_date() -> date:
    # Historical flights have an arrival delay, so they cannot be later than tomorrow (UTC slack).
    return _latest_plausible_date_for_hour(int(time.time() // 3600))


@lru_cache(maxsize=1)
def _latest_plausible_date_for_hour(_hour: int) -> date:
    # Cached per hour: it is asked once per row, hundreds of thousands of times per import.
    return datetime.now(timezone.utc).date() + timedelta(days=1)


def parse_flight_date(value: Any) -> date:
    """A date from "YYYY-MM-DD", "M/D/YYYY[ time]", a ``date``/``datetime`` or an ISO timestamp.

    Timestamps are read as instants and taken in UTC: the book's JSONL wrote midnight-UTC dates
    in its machine's zone (2015-01-01 became "2014-12-31T16:00:00.000-08:00").
    """
    if is_missing(value):
        raise _Invalid("missing FlightDate")
    if isinstance(value, datetime):
        parsed = value if value.tzinfo is None else value.astimezone(timezone.utc)
        result = parsed.date()
    elif isinstance(value, date):
        result = value
    else:
        text = str(value).strip()
        us_date = _US_DATE.match(text)
        try:
            if us_date:
                month, day, year = (int(part) for part in us_date.groups())
                result = date(year, month, day)
            elif len(text) == 10:
                result = date.fromisoformat(text)
            else:
                timestamp = parse_timestamp(text)
                if timestamp is None:
                    raise _Invalid("bad FlightDate", value)
                result = timestamp.date()
        except ValueError:
            raise _Invalid("bad FlightDate", value) from None
    if not EARLIEST_FLIGHT_DATE <= result <= _latest_plausible_date():
        raise _Invalid("FlightDate out of range", value)
    return result


def _parse_number(value: Any, field: str) -> float:
    if is_missing(value):
        raise _Invalid(f"missing {field}")
    if isinstance(value, bool):
        raise _Invalid(f"non-numeric {field}", value)
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise _Invalid(f"non-numeric {field}", value) from None
    if math.isnan(number) or math.isinf(number):
        raise _Invalid(f"non-numeric {field}", value)
    return number


def _parse_whole_number(value: Any, field: str) -> int:
    number = _parse_number(value, field)
    if not number.is_integer():
        raise _Invalid(f"non-integer {field}", value)
    return int(number)


def _parse_delay(value: Any, field: str) -> float:
    delay = _parse_number(value, field)
    if abs(delay) > MAX_ABS_DELAY_MINUTES:
        raise _Invalid(f"{field} out of range", value)
    return delay


def _parse_hhmm(value: Any, field: str) -> int:
    """Scheduled local time as an hhmm int (0..2400, BTS writes midnight as 2400 sometimes).

    Also accepts the book's ISO timestamps, whose UTC clock time is the hhmm (the book built
    them as "<date> HH:MM:00Z")."""
    if isinstance(value, str) and ("T" in value or ":" in value):
        timestamp = parse_timestamp(value)
        if timestamp is None:
            raise _Invalid(f"bad {field}", value)
        return timestamp.hour * 100 + timestamp.minute
    hhmm = _parse_whole_number(value, field)
    if not 0 <= hhmm <= 2400 or hhmm % 100 >= 60:
        raise _Invalid(f"bad {field}", value)
    return hhmm


def _parse_code(value: Any, field: str, pattern: re.Pattern[str]) -> str:
    if is_missing(value):
        raise _Invalid(f"missing {field}")
    code = str(value).strip().upper()
    if not pattern.match(code):
        raise _Invalid(f"bad {field}", value)
    return code


def _parse_flight_number(value: Any) -> str:
    """Digits as a string without leading zeros or a float tail ("0042", 42.0 -> "42")."""
    if is_missing(value):
        raise _Invalid("missing FlightNum")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, float) and not value.is_integer():
            raise _Invalid("bad FlightNum", value)
        text = str(int(value))
    else:
        text = str(value).strip()
        if text.endswith(".0"):
            text = text[:-2]
    if not FLIGHT_NUMBER.match(text):
        raise _Invalid("bad FlightNum", value)
    return str(int(text))


def _check_calendar_field(raw: Mapping[str, Any], field: str, derived: int) -> None:
    """A source-provided DayOfWeek/DayOfMonth/DayOfYear must agree with the date (this is what
    catches a 0..6 day-of-week convention or a shifted date); the derived value is kept."""
    value = raw.get(field)
    if is_missing(value):
        return
    try:
        given = _parse_whole_number(value, field)
    except _Invalid:
        raise _Invalid(f"{field} disagrees with FlightDate", value) from None
    if given != derived:
        raise _Invalid(f"{field} disagrees with FlightDate", value)


# --- the record -------------------------------------------------------------------------------


def _build_record(raw: Mapping[str, Any]) -> FlightRecord:
    flight_date = parse_flight_date(raw.get("FlightDate"))
    day_of_week = flight_date.isoweekday()
    day_of_year = flight_date.timetuple().tm_yday
    _check_calendar_field(raw, "DayOfWeek", day_of_week)
    _check_calendar_field(raw, "DayOfMonth", flight_date.day)
    _check_calendar_field(raw, "DayOfYear", day_of_year)

    origin = _parse_code(raw.get("Origin"), "Origin", AIRPORT_CODE)
    dest = _parse_code(raw.get("Dest"), "Dest", AIRPORT_CODE)
    if origin == dest:
        raise _Invalid("Origin equals Dest", origin)

    distance = _parse_number(raw.get("Distance"), "Distance")
    if not 0 < distance <= MAX_DISTANCE_MILES:
        raise _Invalid("Distance out of range", raw.get("Distance"))

    return {
        "FlightDate": flight_date.isoformat(),
        "DayOfWeek": day_of_week,
        "DayOfMonth": flight_date.day,
        "DayOfYear": day_of_year,
        "Carrier": _parse_code(raw.get("Carrier"), "Carrier", CARRIER_CODE),
        "FlightNum": _parse_flight_number(raw.get("FlightNum")),
        "Origin": origin,
        "Dest": dest,
        "Distance": distance,
        "CRSDepTime": _parse_hhmm(raw.get("CRSDepTime"), "CRSDepTime"),
        "CRSArrTime": _parse_hhmm(raw.get("CRSArrTime"), "CRSArrTime"),
        "DepDelay": _parse_delay(raw.get("DepDelay"), "DepDelay"),
        "ArrDelay": _parse_delay(raw.get("ArrDelay"), "ArrDelay"),
        "Route": f"{origin}-{dest}",
    }


def normalize_flight(
    raw: Mapping[str, Any], *, cancelled: Any = None, diverted: Any = None
) -> Normalized:
    """Validate and normalize one raw row (canonical field names, raw values).

    ``cancelled``/``diverted`` are the source's flags (BTS 0/1 columns, or inferred by the
    reader); a flight without ArrDelay is excluded when flagged and rejected otherwise.
    Never raises on bad data.
    """
    if is_missing(raw.get("ArrDelay")):
        if parse_flag(cancelled):
            return Normalized(Status.EXCLUDED, reason="cancelled")
        if parse_flag(diverted):
            return Normalized(Status.EXCLUDED, reason="diverted")
        return Normalized(Status.REJECTED, reason="missing ArrDelay")
    try:
        record = _build_record(raw)
    except _Invalid as invalid:
        return Normalized(Status.REJECTED, reason=invalid.reason, detail=invalid.detail)
    except Exception as unexpected:  # a value type no parser foresaw must not stop an import
        detail = _describe(f"{type(unexpected).__name__}: {unexpected}")
        return Normalized(Status.REJECTED, reason="unparseable row", detail=detail)
    return Normalized(Status.ACCEPTED, record=record)


def natural_key(record: Mapping[str, Any]) -> tuple[str, str, str, str, str, int]:
    """(FlightDate, Carrier, FlightNum, Origin, Dest, CRSDepTime): one scheduled flight leg."""
    return (
        str(record["FlightDate"]),
        str(record["Carrier"]),
        str(record["FlightNum"]),
        str(record["Origin"]),
        str(record["Dest"]),
        int(record["CRSDepTime"]),
    )


def natural_key_id(record: Mapping[str, Any]) -> str:
    """The natural key as a deterministic string, used as the MongoDB ``_id``.

    e.g. "2013-01-01|UA|1545|EWR|IAH|0515". The time is zero-padded so ids sort by schedule.
    """
    flight_date, carrier, flight_num, origin, dest, crs_dep_time = natural_key(record)
    return f"{flight_date}|{carrier}|{flight_num}|{origin}|{dest}|{crs_dep_time:04d}"
