"""The prediction request and response messages (README, "The request and the prediction"), as
pydantic models that own the fields, their bounds, their serialization and the label. The Flask
front end builds requests with them, the streaming scorer reads requests and writes predictions
with them, the canary checks the scorer's answer with them, and /openapi.json describes them.

    FlightQuery   what a person asks: Origin, Dest, Carrier, FlightDate, DepDelay, FlightNum
    Request       + UUID, Timestamp and the derived fields: the request topic's message
    Prediction    + the answer: the response topic's message, MongoDB's document, an HDFS line

Reading a request (``read_request``) is strict on what decides the prediction (Origin, Dest,
Carrier, FlightDate, DepDelay) and on UUID: a bad one is an InvalidRequest naming the field (a
dead letter, an HTTP 400). It is liberal with the rest, as the seed's clients sent it: a
Timestamp without an offset is UTC; the derived fields (Distance, DayOfYear, DayOfMonth,
DayOfWeek, Route) are always computed from FlightDate and the route, and a supplied value that
disagrees (the seed sent Python's 0..6 weekday) or cannot be read is ignored and named in the
request's ``Warnings``, which its prediction carries; FlightNum may be null.

Bounds and code patterns come from the import's normalizer (flightdelay.flights.schema), the
labels from flightdelay.flights.labels. Fields are only ever added, never renamed.
"""

from __future__ import annotations

import json
import math
import re
import uuid as uuid_module
from datetime import date, datetime, timezone
from functools import lru_cache
from typing import Annotated, Any, Literal, Mapping

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    ValidationInfo,
    computed_field,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from flightdelay.flights.geo import RouteDistances, UnknownAirportError
from flightdelay.flights.labels import DELAY_LABELS, NUM_DELAY_CLASSES, calendar_fields, delay_label
from flightdelay.flights.schema import (
    AIRPORT_CODE,
    CARRIER_CODE,
    EARLIEST_FLIGHT_DATE,
    FLIGHT_NUMBER,
    VALUE_RANGES,
    parse_timestamp,
)
from flightdelay.model.scope import FLAG_TEXT, FLAGS

LATEST_YEAR = 2100
MAX_MESSAGE_BYTES = 16 * 1024
# A request is one flat object; a few levels leave room for a wrong type to be named per field,
# and keep json and str() of what it built far from the recursion limit (1,000 deep was a 500).
MAX_JSON_DEPTH = 4
# A delay or a distance never needs more characters; float() of a 400-digit int overflows and
# int() of thousands of digits is slow, so longer number literals are refused before converting.
MAX_NUMBER_CHARS = 32
NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
DATE_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
UUID_SPELLING = re.compile(r"(?:urn:)?(?:uuid:)?\{?[0-9A-Fa-f-]{32,64}\}?")  # what uuid.UUID may read
# a supplied Distance this close to the computed one agrees with it (clients round to the mile)
DISTANCE_TOLERANCE_MILES = 1.0
# a supplied value quoted in a warning is cut to this many characters
WARNING_VALUE_CHARS = 40


class InvalidRequest(ValueError):
    """A request that cannot be scored; ``errors`` maps each bad field to what is wrong."""

    def __init__(self, errors: Mapping[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{field}: {message}" for field, message in self.errors.items()))


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


# --- the fields' types ----------------------------------------------------------------------------
# Each strict field is a pydantic type: a Python step for what pydantic would read differently
# (numbers as text, dates, UUID spellings), then pydantic's own checks (patterns, bounds).


def _code(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


def _number(value: Any) -> Any:
    """A finite number from a number or its plain ASCII notation (forms send text); pydantic's
    float would also take true/false, "1_000", "nan" and other scripts' digits."""
    kind = type(value)
    if kind is float:
        if math.isnan(value) or math.isinf(value):
            raise ValueError("must be a finite number")
        return value
    if kind is int:
        return value
    if kind is str:
        text = value.strip()
        if len(text) > MAX_NUMBER_CHARS or not NUMBER_TEXT.fullmatch(text):
            raise ValueError("must be a number")
        value = float(text)
        if math.isinf(value):
            raise ValueError("must be a finite number")
        return value
    raise ValueError("must be a number")  # bool, null, objects, lists


def _flight_date(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 12 or not DATE_TEXT.fullmatch(value.strip()):
        raise ValueError("must be a date as YYYY-MM-DD")
    parsed = date.fromisoformat(value.strip())  # ValueError names the bad month or day
    if not (EARLIEST_FLIGHT_DATE <= parsed and parsed.year <= LATEST_YEAR):
        raise ValueError(f"must be between {EARLIEST_FLIGHT_DATE.isoformat()} and {LATEST_YEAR}-12-31")
    return parsed.isoformat()


def _uuid(value: Any) -> str:
    if type(value) is str:
        if CANONICAL_UUID.fullmatch(value):
            return value
        if UUID_SPELLING.fullmatch(value):
            try:  # any spelling uuid.UUID reads: upper case, braces, urn:uuid:, no hyphens
                return str(uuid_module.UUID(value))
            except ValueError:
                pass
    raise ValueError("must be a UUID")


def _flight_number(value: Any) -> Any:
    if value is None or value == "":
        return None
    if type(value) is int and value >= 0:
        return str(value)
    return value.strip() if isinstance(value, str) else value


def _range(field: str) -> dict[str, float]:
    low, high = VALUE_RANGES[field]
    return {"ge": low, "le": high}


# pydantic's own constraints come before the Python step in each Annotated: so placed, they stay
# in pydantic's core (after the step) instead of being applied by a Python wrapper.
AirportCode = Annotated[
    str,
    Field(pattern=AIRPORT_CODE.pattern),
    BeforeValidator(_code),
    Field(description="3-letter airport code (trimmed and upper-cased)", examples=["ATL"]),
]
CarrierCode = Annotated[
    str,
    Field(pattern=CARRIER_CODE.pattern),
    BeforeValidator(_code),
    Field(description="2-3 character carrier code (trimmed and upper-cased)", examples=["AA"]),
]
FlightDateText = Annotated[
    str,
    BeforeValidator(_flight_date),
    Field(description=f"the flight's date, YYYY-MM-DD, {EARLIEST_FLIGHT_DATE.isoformat()} to {LATEST_YEAR}-12-31",
          json_schema_extra={"format": "date"}, examples=["2016-12-25"]),
]  # fmt: skip
Delay = Annotated[
    float,
    Field(**_range("DepDelay")),
    BeforeValidator(_number),
    Field(description="departure delay in minutes, negative when early (a number, or its text)", examples=[5.0]),
]
RequestId = Annotated[
    str,
    BeforeValidator(_uuid),
    Field(description="the request's UUID (any spelling; kept in its canonical lower-case form)",
          json_schema_extra={"format": "uuid"}),
]  # fmt: skip
FlightNumber = Annotated[
    Annotated[str, Field(pattern=FLIGHT_NUMBER.pattern)] | None,
    BeforeValidator(_flight_number),
    Field(description="flight number, 1 to 5 digits; optional (null or absent)", examples=["1519"]),
]
TimeText = Annotated[str, Field(json_schema_extra={"format": "date-time"})]

# What a field that fails its check must be, for the field's error message.
EXPECTED = {
    "Origin": "a 3-letter airport code",
    "Dest": "a 3-letter airport code",
    "Carrier": "a 2-3 character carrier code",
    "FlightDate": "a date as YYYY-MM-DD",
    "DepDelay": "a number",
    "FlightNum": "1 to 5 digits",
    "UUID": "a UUID",
}
BOUND_ERRORS = ("greater_than_equal", "less_than_equal", "greater_than", "less_than")

# --- the models -------------------------------------------------------------------------------------

# extra fields are ignored (a request may carry more); schema titles are the field names
_COMMON = ConfigDict(extra="ignore", field_title_generator=lambda name, _info: name)


class FlightQuery(BaseModel):
    """The flight a person asks about: the fields the web's form and JSON body take."""

    model_config = _COMMON

    Origin: AirportCode
    Dest: AirportCode
    Carrier: CarrierCode
    FlightDate: FlightDateText
    DepDelay: Delay
    FlightNum: FlightNumber = None

    @field_validator("Dest")
    @classmethod
    def _not_the_origin(cls, dest: str, info) -> str:
        if dest == info.data.get("Origin"):
            raise ValueError("must differ from Origin")
        return dest


def _as_given(value: Any) -> Any:
    return value


def _supplied(kind: Any) -> Any:
    """A field the reader fills: whatever a request supplies is taken as it is (any type) and
    judged by ``Request._complete``, which replaces it; the schema shows what the field holds."""
    return Annotated[kind | None, PlainValidator(_as_given, json_schema_input_type=kind | None)]


SuppliedTime = _supplied(TimeText)
SuppliedNumber = _supplied(float)
SuppliedText = _supplied(str)


def _bounds(field: str) -> dict[str, dict[str, float]]:
    """The field's bounds for the schema (the value is computed, so never checked against them)."""
    low, high = VALUE_RANGES[field]
    return {"json_schema_extra": {"minimum": low, "maximum": high}}


class Request(FlightQuery):
    """A prediction request as it travels on the request topic (key = UUID).

    Validated with route distances as the context (``read_request``), the derived fields are
    computed and any supplied value that disagrees is named in ``Warnings``. Validated without
    (re-reading a record the platform wrote), Distance and Warnings are kept as they are."""

    UUID: RequestId
    Timestamp: SuppliedTime = Field(
        None,
        description="when the client sent the request, ISO-8601 (no offset: UTC); metadata, kept in UTC, "
        "ignored with a warning when it is not a time",
    )
    Distance: SuppliedNumber = Field(
        None,
        description="route distance in miles: the mean distance flown on the route, else the great-circle "
        "distance (computed)",
        **_bounds("Distance"),
    )
    DayOfYear: SuppliedNumber = Field(None, description="1..366, from FlightDate (computed)", **_bounds("DayOfYear"))
    DayOfMonth: SuppliedNumber = Field(None, description="1..31, from FlightDate (computed)", **_bounds("DayOfMonth"))
    DayOfWeek: SuppliedNumber = Field(
        None, description="1=Monday..7=Sunday, from FlightDate (computed)", **_bounds("DayOfWeek")
    )
    Route: SuppliedText = Field(None, description="Origin-Dest (computed)")
    Warnings: Annotated[list[str], PlainValidator(_as_given, json_schema_input_type=list[str])] = Field(
        default_factory=list,
        description="the supplied values the scorer ignored or could not read, and why (set by the reader)",
    )

    @model_validator(mode="after")
    def _complete(self, info: ValidationInfo) -> Request:
        """Fill Timestamp and the derived fields from the validated ones; note what disagreed."""
        distances: RouteDistances | None = info.context
        fields = self.__dict__  # written directly, as pydantic's model_construct does
        warnings = [] if distances is not None else _strings(fields["Warnings"])
        day_of_year, day_of_month, day_of_week = _calendar(self.FlightDate)
        route = f"{self.Origin}-{self.Dest}"
        derived = {"DayOfYear": day_of_year, "DayOfMonth": day_of_month, "DayOfWeek": day_of_week, "Route": route}
        if distances is not None:
            try:
                derived["Distance"] = distances.distance(self.Origin, self.Dest)
            except UnknownAirportError as exc:  # named by field_errors under the field in its context
                field = "Origin" if exc.code == self.Origin else "Dest"
                context = {"code": exc.code, "field": field}
                raise PydanticCustomError("unknown_airport", "unknown airport {code}", context) from None
        for name, computed in derived.items():
            given = fields[name]
            if given is not None and given != computed and not _agrees(name, given, computed):
                warnings.append(_ignored(name, given, _why(name, computed, self.FlightDate, route)))
        if distances is None:  # a record of the platform's: its Distance was computed then
            derived["Distance"] = _miles(fields["Distance"])
        timestamp = fields["Timestamp"]
        if timestamp is not None:
            derived["Timestamp"] = normalized = _timestamp(timestamp)
            if normalized is None:
                warnings.append(_ignored("Timestamp", timestamp, "not an ISO-8601 time"))
        derived["Warnings"] = warnings
        fields.update(derived)
        return self

    def message(self) -> dict[str, Any]:
        """The request as the platform sends it to the request topic."""
        return self.model_dump(exclude_none=True, exclude={"Warnings"})


@lru_cache(maxsize=4096)
def _calendar(flight_date: str) -> tuple[float, float, float]:
    """(DayOfYear, DayOfMonth, DayOfWeek) as the model takes them; requests repeat their dates."""
    fields = calendar_fields(flight_date)
    return float(fields["DayOfYear"]), float(fields["DayOfMonth"]), float(fields["DayOfWeek"])


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _as_float(value: Any) -> float | None:
    try:
        number = _number(value)
    except ValueError:
        return None
    return float(number) if not math.isnan(number) else None


def _miles(value: Any) -> float | None:
    miles = _as_float(value)
    low, high = VALUE_RANGES["Distance"]
    return miles if miles is not None and low <= miles <= high else None


def _agrees(name: str, given: Any, computed: Any) -> bool:
    """Whether a supplied derived value says what the computed one says (given != computed)."""
    if given == "":
        return True  # absent: nothing to ignore
    if name == "Route":
        return isinstance(given, str) and given.strip().upper() == computed
    number = _as_float(given)
    if number is None:
        return False
    if name == "Distance":
        return abs(number - computed) < DISTANCE_TOLERANCE_MILES
    return number == computed


def _why(name: str, computed: Any, flight_date: str, route: str) -> str:
    if name == "DayOfWeek":
        return f"{flight_date} is day {computed:g} of its week (1=Monday..7=Sunday)"
    if name == "DayOfMonth":
        return f"{flight_date} is day {computed:g} of its month"
    if name == "DayOfYear":
        return f"{flight_date} is day {computed:g} of its year"
    if name == "Distance":
        return f"{route} is {computed:.0f} miles"
    return f"the route is {computed}"


def _ignored(name: str, given: Any, why: str) -> str:
    shown = repr(given)
    if len(shown) > WARNING_VALUE_CHARS:
        shown = shown[: WARNING_VALUE_CHARS - 3] + "..."
    return f"{name}: {shown} ignored: {why}"


def _timestamp(value: Any) -> str | None:
    """ISO-8601 text in UTC (a time without an offset is UTC), or None when it is not a time."""
    parsed = parse_timestamp(value) if isinstance(value, str) and len(value) <= 64 else None
    return parsed.isoformat() if parsed is not None else None


Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Flag = Literal[FLAGS]  # type: ignore[valid-type]


class Prediction(Request):
    """A prediction as the scorer writes it: to the response topic (key = UUID), MongoDB
    ``flight_delay_ml_response`` (_id = UUID) and HDFS ``/user/predictions`` (one JSON line)."""

    Prediction: float = Field(
        ge=0, le=NUM_DELAY_CLASSES - 1, multiple_of=1, description="the delay class, 0.0..3.0 (see PredictionLabel)"
    )
    Probabilities: list[Probability] = Field(
        min_length=NUM_DELAY_CLASSES,
        max_length=NUM_DELAY_CLASSES,
        description="the probability of each class, in class order",
    )
    ModelVersion: str = Field(description="the model registry version that made the prediction")
    ModelAccuracy: Probability | None = Field(
        None, description="that version's accuracy on its held-out weeks (the registry's metrics)"
    )
    Flags: list[Flag] = Field(
        default_factory=list,
        description="where the request lies outside what the model learned from, so the answer is a guess: "
        + "; ".join(f"{code}: {text}" for code, text in FLAG_TEXT.items()),
    )
    RequestProducedAt: TimeText | None = Field(
        None, description="when the request reached Kafka (UTC, from the record's timestamp)"
    )
    ScoredAt: TimeText = Field(description="when the scorer made the prediction (UTC)")

    @computed_field(description="the class's label: " + "; ".join(f"{i}: {t}" for i, t in enumerate(DELAY_LABELS)))
    @property
    def PredictionLabel(self) -> str:
        return delay_label(self.Prediction)

    def record(self) -> dict[str, Any]:
        """The prediction as written to the sinks (fields without a value left out)."""
        return self.model_dump(exclude_none=True)


# a scorer row: the request's validated fields and when it reached Kafka (scoring.requests)
_SCORED_REQUEST_FIELDS = (*Request.model_fields, "RequestProducedAt")


def prediction_record(
    row: Mapping[str, Any],
    prediction: float,
    probabilities: list[float],
    model_version: str,
    scored_at: str,
    flags: list[str] | None = None,
    model_accuracy: float | None = None,
) -> dict[str, Any]:
    """``Prediction.record()`` of a validated request's row and its score, built without the
    model: the scorer makes one per request, and pydantic's construct-and-dump costs 4x this
    (bench/request_parsing.py). The unit tests hold the two equal."""
    record = {name: row[name] for name in _SCORED_REQUEST_FIELDS if row.get(name) is not None}
    record.update(
        Prediction=prediction,
        PredictionLabel=delay_label(prediction),
        Probabilities=[round(p, 6) for p in probabilities],
        ModelVersion=model_version,
        Flags=flags or [],
        ScoredAt=scored_at,
    )
    if model_accuracy is not None:
        record["ModelAccuracy"] = model_accuracy
    return record


# --- reading and writing messages ------------------------------------------------------------------


def field_errors(exc: ValidationError) -> dict[str, str]:
    """pydantic's errors as {field: what is wrong}, in the contract's words."""
    errors: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        kind = error["type"]
        loc = error["loc"]
        field = str(loc[0]) if loc else error.get("ctx", {}).get("field", "body")
        if field in errors:
            continue
        if kind == "missing" or (field in EXPECTED and field != "FlightNum" and error.get("input") in (None, "")):
            errors[field] = "is required"
        elif kind == "value_error":
            errors[field] = str(error["ctx"]["error"])
        elif kind in BOUND_ERRORS and field in VALUE_RANGES:
            low, high = VALUE_RANGES[field]
            errors[field] = f"must be between {low:g} and {high:g}"
        elif kind == "unknown_airport":
            errors[field] = error["msg"]
        else:
            errors[field] = f"must be {EXPECTED[field]}" if field in EXPECTED else error["msg"]
    return errors


def read_request(message: Mapping[str, Any], distances: RouteDistances) -> Request:
    """A raw request (a JSON object's fields) read as the contract says (see the module's
    docstring); InvalidRequest names every bad field that decides the prediction."""
    try:
        return Request.model_validate(message, context=distances)
    except ValidationError as exc:
        raise InvalidRequest(field_errors(exc)) from None


def new_request(
    fields: Mapping[str, Any], now: datetime | None = None, distances: RouteDistances | None = None
) -> dict[str, Any]:
    """A request message for a flight's fields: + Timestamp (UTC) + a new UUID, Route and the
    calendar fields filled, and Distance when ``distances`` is given (otherwise the scorer fills
    it). Raises InvalidRequest."""
    message = {**fields, "Timestamp": (now or datetime.now(timezone.utc)).isoformat(), "UUID": str(uuid_module.uuid4())}
    try:
        return Request.model_validate(message, context=distances).message()
    except ValidationError as exc:
        raise InvalidRequest(field_errors(exc)) from None
