"""The prediction request and response messages (DESIGN.md "Contracts"), shared by the Flask
front end (which builds requests) and the streaming scorer (which validates and answers them).

Request fields: Origin, Dest, Carrier, FlightDate (YYYY-MM-DD), DepDelay, FlightNum (optional),
Distance, DayOfYear, DayOfMonth, DayOfWeek (1=Mon..7=Sun), Timestamp (UTC ISO-8601 with offset),
UUID. Derived fields (Distance, the three day fields, Route) may be absent: the scorer fills them.

Fields are only ever added, never renamed.
"""

from __future__ import annotations

import json
import math
import re
import uuid as uuid_module
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Mapping

from flightdelay.flights.labels import DELAY_LABELS, calendar_fields

REQUIRED_FIELDS = ("Origin", "Dest", "Carrier", "FlightDate", "DepDelay", "UUID")
DERIVED_FIELDS = ("Distance", "DayOfYear", "DayOfMonth", "DayOfWeek", "Route")
OPTIONAL_FIELDS = ("FlightNum", "Timestamp", *DERIVED_FIELDS)
REQUEST_FIELDS = (*REQUIRED_FIELDS, *OPTIONAL_FIELDS)

# A delay beyond a day is a data error, not a late flight (the import applies the same bound).
MAX_ABS_DELAY_MINUTES = 24 * 60
MAX_DISTANCE_MILES = 6000.0
EARLIEST_FLIGHT_DATE = date(1987, 1, 1)
LATEST_YEAR = 2100
MAX_MESSAGE_BYTES = 16 * 1024
# A request is one flat object; a few levels leave room for a wrong type to be named per field,
# and keep json and str() of what it built far from the recursion limit (1,000 deep was a 500).
MAX_JSON_DEPTH = 4
# A delay or a distance never needs more characters; float() of a 400-digit int overflows and
# int() of thousands of digits is slow, so longer number literals are refused before converting.
MAX_NUMBER_CHARS = 32
NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")

AIRPORT_CODE = re.compile(r"^[A-Z0-9]{3}$")
CARRIER_CODE = re.compile(r"^[A-Z0-9]{2,3}$")
FLIGHT_NUMBER = re.compile(r"^[0-9]{1,5}$")

PREDICTION_LABELS = dict(enumerate(DELAY_LABELS))


class InvalidRequest(ValueError):
    """A request that cannot be scored; ``errors`` maps each bad field to what is wrong."""

    def __init__(self, errors: Mapping[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{field}: {message}" for field, message in self.errors.items()))


@dataclass(frozen=True)
class Bounds:
    low: float
    high: float


NUMERIC_BOUNDS = {
    "DepDelay": Bounds(-MAX_ABS_DELAY_MINUTES, MAX_ABS_DELAY_MINUTES),
    "Distance": Bounds(1.0, MAX_DISTANCE_MILES),
    "DayOfYear": Bounds(1, 366),
    "DayOfMonth": Bounds(1, 31),
    "DayOfWeek": Bounds(1, 7),
}


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("must be a number")
    if isinstance(value, str):
        # float() also takes "1_000", "nan" and other scripts' digits: only plain ASCII notation
        value = value.strip()
        if len(value) > MAX_NUMBER_CHARS or not NUMBER_TEXT.fullmatch(value):
            raise ValueError("must be a number")
    try:
        number = float(value)
    except OverflowError:  # an int beyond float's range
        raise ValueError("must be a finite number") from None
    if math.isnan(number) or math.isinf(number):
        raise ValueError("must be a finite number")
    return number


# --- a JSON body, bounded before it is parsed ---------------------------------------------------


class JSONBoundsError(ValueError):
    """Valid or not, a JSON text the contract refuses to parse further; the message says why."""


# A string (an unterminated one runs to the end, so every match succeeds and the scan stays
# linear however the quotes and backslashes are arranged) or a bracket.
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.?)*+(?:"|\Z)|[\[\]{}]', re.DOTALL)


def json_depth_exceeds(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when arrays/objects nest deeper than ``limit`` (brackets inside strings ignored)."""
    depth = 0
    for token in _JSON_TOKEN.finditer(text):
        mark = token.group()
        if mark in "[{":
            depth += 1
            if depth > limit:
                return True
        elif mark in "]}":
            depth -= 1
    return False


def _bounded_number(parse):
    def convert(literal: str):
        if len(literal) > MAX_NUMBER_CHARS:
            raise JSONBoundsError(f"has a number longer than {MAX_NUMBER_CHARS} characters")
        return parse(literal)

    return convert


def _refuse_constant(name: str):
    raise JSONBoundsError(f"has {name}, which is not a JSON number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise JSONBoundsError(f"gives the key {key[:40]!r} more than once")
        found[key] = value
    return found


def load_json(text: str) -> Any:
    """Parse a request's JSON text within the contract's bounds: nesting depth (checked before
    parsing), number length (before converting), no NaN/Infinity, no duplicate keys. Raises
    JSONBoundsError for those, ValueError (json.JSONDecodeError) for text that is not JSON."""
    if json_depth_exceeds(text):
        raise JSONBoundsError(f"nests arrays or objects deeper than {MAX_JSON_DEPTH} levels")
    return json.loads(
        text,
        parse_int=_bounded_number(int),
        parse_float=_bounded_number(float),
        parse_constant=_refuse_constant,
        object_pairs_hook=_unique_keys,
    )


def parse_flight_date(value: Any) -> date:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        raise ValueError("must be a date as YYYY-MM-DD")
    parsed = date.fromisoformat(value.strip())
    if not (EARLIEST_FLIGHT_DATE <= parsed and parsed.year <= LATEST_YEAR):
        raise ValueError(f"must be between {EARLIEST_FLIGHT_DATE.isoformat()} and {LATEST_YEAR}-12-31")
    return parsed


def validate_request(message: Mapping[str, Any], *, fill_calendar: bool = True) -> dict[str, Any]:
    """Check a request and return it normalized (codes upper-cased, numbers as floats, Route and
    the calendar fields filled). Raises InvalidRequest naming every bad field.

    Distance is not filled here: it needs the route history or the airport table (see
    ``flightdelay.flights.geo.route_distance``).
    """
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for field in REQUIRED_FIELDS:
        if message.get(field) in (None, ""):
            errors[field] = "is required"
    for field, pattern, what in (
        ("Origin", AIRPORT_CODE, "a 3-letter airport code"),
        ("Dest", AIRPORT_CODE, "a 3-letter airport code"),
        ("Carrier", CARRIER_CODE, "a 2-3 character carrier code"),
    ):
        value = message.get(field)
        if field in errors:
            continue
        text = str(value).strip().upper()
        if not pattern.match(text):
            errors[field] = f"must be {what}"
        else:
            clean[field] = text
    if "Origin" in clean and clean.get("Origin") == clean.get("Dest"):
        errors["Dest"] = "must differ from Origin"

    if "FlightDate" not in errors:
        try:
            flight_date = parse_flight_date(message["FlightDate"])
            clean["FlightDate"] = flight_date.isoformat()
        except ValueError as exc:
            errors["FlightDate"] = str(exc)

    for field, bounds in NUMERIC_BOUNDS.items():
        value = message.get(field)
        if field in errors or value in (None, ""):
            continue
        try:
            number = _number(value)
        except (TypeError, ValueError):
            errors[field] = "must be a number"
            continue
        if not bounds.low <= number <= bounds.high:
            errors[field] = f"must be between {bounds.low:g} and {bounds.high:g}"
        else:
            clean[field] = number

    flight_num = message.get("FlightNum")
    if flight_num not in (None, ""):
        text = str(flight_num).strip()
        if not FLIGHT_NUMBER.match(text):
            errors["FlightNum"] = "must be 1 to 5 digits"
        else:
            clean["FlightNum"] = text

    if "UUID" not in errors:
        try:
            clean["UUID"] = str(uuid_module.UUID(str(message["UUID"])))
        except ValueError:
            errors["UUID"] = "must be a UUID"

    timestamp = message.get("Timestamp")
    if timestamp not in (None, ""):
        try:
            parsed = datetime.fromisoformat(str(timestamp).replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                raise ValueError
            clean["Timestamp"] = parsed.isoformat()
        except ValueError:
            errors["Timestamp"] = "must be an ISO-8601 time with a UTC offset"

    if errors:
        raise InvalidRequest(errors)

    if fill_calendar:
        derived = calendar_fields(clean["FlightDate"])
        for field, value in derived.items():
            given = clean.get(field)
            if given is not None and int(given) != value:
                errors[field] = f"is {int(given)} but {clean['FlightDate']} gives {value}"
            clean[field] = float(value)
        if errors:
            raise InvalidRequest(errors)
    clean["Route"] = f"{clean['Origin']}-{clean['Dest']}"
    return clean


def new_request(fields: Mapping[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """A request as the front end sends it: the user's fields + Timestamp (UTC) + a new UUID."""
    now = now or datetime.now(timezone.utc)
    message = {**fields, "Timestamp": now.isoformat(), "UUID": str(uuid_module.uuid4())}
    return validate_request(message)


def complete_request(
    message: Mapping[str, Any],
    known_distances: Mapping[tuple[str, str], float] | None = None,
    airports: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Validate a request and fill Distance when absent: the mean distance flown on the route,
    else the great-circle distance between the airports. An airport that is in neither is an
    InvalidRequest naming the field (the seed answered an unknown route with HTTP 500)."""
    from flightdelay.flights.geo import UnknownAirportError, load_airports, route_distance

    clean = validate_request(message)
    if clean.get("Distance") is None:
        airports = airports if airports is not None else load_airports()
        for field in ("Origin", "Dest"):
            if clean[field] not in airports and not (known_distances and _flown(clean, known_distances)):
                raise InvalidRequest({field: f"unknown airport {clean[field]}"})
        try:
            clean["Distance"] = float(route_distance(clean["Origin"], clean["Dest"], known_distances, airports))
        except UnknownAirportError as exc:
            raise InvalidRequest({"Origin": str(exc)}) from exc
    return clean


def _flown(clean: Mapping[str, Any], known_distances: Mapping[tuple[str, str], float]) -> bool:
    pair = (clean["Origin"], clean["Dest"])
    return pair in known_distances or pair[::-1] in known_distances


def label_of(prediction: float) -> str:
    return PREDICTION_LABELS[int(prediction)]


# --- the response -----------------------------------------------------------------------------
# A response is the normalized request plus these fields (key on the response topic = UUID):
RESPONSE_FIELDS = (
    "Prediction",  # 0.0..3.0, the index of DELAY_LABELS
    "PredictionLabel",  # the label text
    "Probabilities",  # the four class probabilities, in class order
    "ModelVersion",  # the registry version that made the prediction
    "RequestProducedAt",  # when the request reached Kafka (UTC ISO-8601, from the record timestamp)
    "ScoredAt",  # when the scorer produced the prediction (UTC ISO-8601)
)
