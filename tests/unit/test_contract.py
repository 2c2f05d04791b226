"""The request and prediction contract (flightdelay.contract): the seed's request format and its
variants are scored with warnings, the fields that decide the prediction stay strict, and the
models round-trip what the scorer writes."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

import orjson
import pytest

from flightdelay.contract import (
    FlightQuery,
    InvalidRequest,
    Prediction,
    Request,
    new_request,
    prediction_record,
    read_request,
)
from flightdelay.flights.geo import RouteDistances, load_airports
from flightdelay.flights.labels import DELAY_LABELS
from flightdelay.flights.schema import MAX_ABS_DELAY_MINUTES, VALUE_RANGES
from flightdelay.scoring.requests import parse_record

DISTANCES = RouteDistances.fixed({("JFK", "LAX"): 2475.0, ("ATL", "SFO"): 2139.0}, load_airports())
GOOD = {"Origin": "jfk", "Dest": "LAX", "Carrier": "AA", "FlightDate": "2013-01-01", "DepDelay": "-4"}
PRODUCED = datetime(2026, 12, 1, 3, 57, 46, tzinfo=timezone.utc)


def seed_message(**change) -> dict:
    """The seed's message for its page's default form, exactly as issue #13 quotes it."""
    message = {"DepDelay": 5.0, "Carrier": "AA", "FlightDate": "2016-12-25", "Dest": "SFO", "FlightNum": None,
               "Origin": "ATL", "DayOfYear": 360, "DayOfMonth": 25, "DayOfWeek": 6,
               "Timestamp": "2026-12-01T03:57:45.150104", "UUID": str(uuid.uuid4())}  # fmt: skip
    message.update(change)
    return {k: v for k, v in message.items() if v is not ...}  # `...` removes a field


def read(**change) -> Request:
    return read_request(seed_message(**change), DISTANCES)


# --- the seed's format is scored -----------------------------------------------------------------


def test_the_seeds_exact_message_is_scored_with_its_weekday_named():
    message = seed_message()
    row = parse_record(json.dumps(message).encode(), PRODUCED, DISTANCES)
    assert row["error"] == ""
    assert row["UUID"] == message["UUID"]
    assert row["Timestamp"] == "2026-12-01T03:57:45.150104+00:00"  # no offset: UTC
    assert (row["DayOfYear"], row["DayOfMonth"], row["DayOfWeek"]) == (360.0, 25.0, 7.0)  # a Sunday
    assert row["Distance"] == 2139.0 and row["Route"] == "ATL-SFO"  # computed, not sent
    assert row["FlightNum"] is None
    assert row["Warnings"] == ["DayOfWeek: 6 ignored: 2016-12-25 is day 7 of its week (1=Monday..7=Sunday)"]


@pytest.mark.parametrize(
    "timestamp, kept",
    [
        ("2026-12-01T03:57:45.150104", "2026-12-01T03:57:45.150104+00:00"),
        ("2026-12-01T03:57:45", "2026-12-01T03:57:45+00:00"),
        ("2026-12-01T03:57:45Z", "2026-12-01T03:57:45+00:00"),
        ("2026-12-01T04:57:45+01:00", "2026-12-01T03:57:45+00:00"),  # kept in UTC
        ("2026-12-01T03:57:45.150104+00:00", "2026-12-01T03:57:45.150104+00:00"),
    ],
)
def test_naive_and_offset_timestamps_are_taken_in_utc_without_warnings(timestamp, kept):
    request = read(DayOfWeek=7, Timestamp=timestamp)
    assert request.Timestamp == kept
    assert request.Warnings == []


@pytest.mark.parametrize("timestamp", ["yesterday", 1764561465, "2026-13-01T00:00:00", {"at": "now"}])
def test_a_timestamp_that_is_not_a_time_is_dropped_with_a_warning(timestamp):
    request = read(DayOfWeek=7, Timestamp=timestamp)
    assert request.Timestamp is None
    assert request.Warnings == [f"Timestamp: {timestamp!r} ignored: not an ISO-8601 time"]


def test_no_timestamp_is_fine():
    assert read(DayOfWeek=7, Timestamp=...).Timestamp is None


@pytest.mark.parametrize(
    "flight_date, python_weekday, iso_weekday",
    [("2016-12-25", 6, 7), ("2016-12-26", 0, 1), ("2016-12-28", 2, 3)],  # Sunday, Monday, Wednesday
)
def test_a_0_to_6_weekday_is_replaced_and_named_a_1_to_7_one_is_taken(flight_date, python_weekday, iso_weekday):
    day = int(flight_date[-2:])
    calendar = {"FlightDate": flight_date, "DayOfMonth": day, "DayOfYear": 335 + day}
    seed = read(**calendar, DayOfWeek=python_weekday)
    assert seed.DayOfWeek == iso_weekday
    assert seed.Warnings == [
        f"DayOfWeek: {python_weekday} ignored: {flight_date} is day {iso_weekday} of its week (1=Monday..7=Sunday)"
    ]
    bts = read(**calendar, DayOfWeek=iso_weekday)
    assert bts.DayOfWeek == iso_weekday and bts.Warnings == []


@pytest.mark.parametrize(
    "change, warning",
    [
        ({"DayOfYear": 359}, "DayOfYear: 359 ignored: 2016-12-25 is day 360 of its year"),
        ({"DayOfMonth": 24}, "DayOfMonth: 24 ignored: 2016-12-25 is day 25 of its month"),
        ({"DayOfMonth": "soon"}, "DayOfMonth: 'soon' ignored: 2016-12-25 is day 25 of its month"),
        ({"Distance": 100}, "Distance: 100 ignored: ATL-SFO is 2139 miles"),
        ({"Distance": -5}, "Distance: -5 ignored: ATL-SFO is 2139 miles"),
        ({"Distance": "far"}, "Distance: 'far' ignored: ATL-SFO is 2139 miles"),
        ({"Distance": [2139]}, "Distance: [2139] ignored: ATL-SFO is 2139 miles"),
        ({"Route": "ATL-LAX"}, "Route: 'ATL-LAX' ignored: the route is ATL-SFO"),
        ({"Distance": "x" * 500}, "Distance: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx... ignored: ATL-SFO is 2139 miles"),
    ],
)
def test_each_derived_value_that_disagrees_is_replaced_and_named(change, warning):
    request = read(DayOfWeek=7, **change)
    assert request.Warnings == [warning]
    assert (request.DayOfYear, request.DayOfMonth, request.Distance, request.Route) == (360.0, 25.0, 2139.0, "ATL-SFO")


@pytest.mark.parametrize(
    "change",
    [
        {"Distance": ...},  # missing
        {"Distance": None},
        {"Distance": 2139},
        {"Distance": "2139.4"},  # as text, within a mile
        {"Distance": 2138.2},
        {"DayOfWeek": "7", "DayOfMonth": 25.0, "Route": " atl-sfo "},
        {"FlightNum": None},
        {"FlightNum": ...},
        {"FlightNum": ""},
    ],
)
def test_derived_values_that_agree_or_are_absent_give_no_warning(change):
    request = read(**{"DayOfWeek": 7, **change})
    assert request.Warnings == [] and request.Distance == 2139.0


def test_several_disagreements_are_all_named():
    request = read(DayOfWeek=1, DayOfMonth=1, Distance=1, Route="X", Timestamp="soon")
    assert [w.split(":")[0] for w in request.Warnings] == ["DayOfMonth", "DayOfWeek", "Route", "Distance", "Timestamp"]


def test_warnings_a_client_sends_are_not_taken():
    assert read(DayOfWeek=7, Warnings=["trust me"]).Warnings == []


def test_an_unflown_route_gets_the_great_circle_distance():
    request = read_request({**GOOD, "Dest": "ANC", "UUID": str(uuid.uuid4())}, DISTANCES)
    assert 3300 < request.Distance < 3500  # JFK-ANC great circle, about 3,380 miles
    assert read_request({**GOOD, "Dest": "LAX", "UUID": str(uuid.uuid4())}, DISTANCES).Distance == 2475.0


def test_a_flown_route_is_as_long_both_ways():
    reverse = {**GOOD, "Origin": "LAX", "Dest": "JFK", "UUID": str(uuid.uuid4())}
    assert read_request(reverse, DISTANCES).Distance == 2475.0


# --- the fields that decide the prediction stay strict -------------------------------------------


@pytest.mark.parametrize(
    "change, field, reason",
    [
        ({"Origin": None}, "Origin", "is required"),
        ({"Origin": ...}, "Origin", "is required"),
        ({"Origin": "ATLX"}, "Origin", "must be a 3-letter airport code"),
        ({"Origin": 123}, "Origin", "must be a 3-letter airport code"),
        ({"Origin": {"$ne": None}}, "Origin", "must be a 3-letter airport code"),
        ({"Origin": "QQQ"}, "Origin", "unknown airport QQQ"),
        ({"Dest": "QQQ"}, "Dest", "unknown airport QQQ"),
        ({"Dest": "atl"}, "Dest", "must differ from Origin"),
        ({"Carrier": "A"}, "Carrier", "must be a 2-3 character carrier code"),
        ({"Carrier": ["AA"]}, "Carrier", "must be a 2-3 character carrier code"),
        ({"FlightDate": "2016-02-30"}, "FlightDate", "day is out of range for month"),
        ({"FlightDate": "12/25/2016"}, "FlightDate", "must be a date as YYYY-MM-DD"),
        ({"FlightDate": 20161225}, "FlightDate", "must be a date as YYYY-MM-DD"),
        ({"FlightDate": "1900-01-01"}, "FlightDate", "must be between 1987-01-01 and 2100-12-31"),
        ({"DepDelay": ...}, "DepDelay", "is required"),
        ({"DepDelay": "soon"}, "DepDelay", "must be a number"),
        ({"DepDelay": True}, "DepDelay", "must be a number"),
        ({"DepDelay": float("nan")}, "DepDelay", "must be a finite number"),
        ({"DepDelay": "1e400"}, "DepDelay", "must be a finite number"),
        ({"DepDelay": 100000}, "DepDelay", f"must be between -{MAX_ABS_DELAY_MINUTES} and {MAX_ABS_DELAY_MINUTES}"),
        ({"UUID": "not-a-uuid"}, "UUID", "must be a UUID"),
        ({"UUID": {"$gt": ""}}, "UUID", "must be a UUID"),
        ({"UUID": None}, "UUID", "is required"),
        ({"FlightNum": "12a"}, "FlightNum", "must be 1 to 5 digits"),
    ],
)
def test_the_strict_fields_are_refused_with_their_reason(change, field, reason):
    with pytest.raises(InvalidRequest) as err:
        read(**change)
    assert err.value.errors == {field: reason}
    # the scorer's dead letter says the same (JSON has no NaN: the scorer refuses that text unread)
    value = json.dumps(seed_message(**change)).encode()
    if b"NaN" not in value:
        assert parse_record(value, PRODUCED, DISTANCES)["error"] == f"invalid request: {field}: {reason}"


def test_every_bad_strict_field_is_named_at_once_and_warnings_do_not_hide_them():
    with pytest.raises(InvalidRequest) as err:
        read(Origin="1", Dest="", FlightDate="x", DepDelay="y", DayOfWeek=0)
    assert err.value.errors == {"Origin": "must be a 3-letter airport code", "Dest": "is required",
                                "FlightDate": "must be a date as YYYY-MM-DD", "DepDelay": "must be a number"}  # fmt: skip


def test_codes_and_uuids_are_normalized():
    key = uuid.uuid4()
    request = read_request({**GOOD, "Carrier": " aa ", "UUID": "{" + str(key).upper() + "}"}, DISTANCES)
    assert (request.Origin, request.Carrier, request.UUID) == ("JFK", "AA", str(key))
    assert request.DepDelay == -4.0


def test_the_bounds_are_the_imports():
    properties = Request.model_json_schema()["properties"]
    for field in ("DepDelay", "Distance", "DayOfYear", "DayOfMonth", "DayOfWeek"):
        assert (properties[field]["minimum"], properties[field]["maximum"]) == VALUE_RANGES[field], field


# --- messages the platform builds -----------------------------------------------------------------


def test_new_request_fills_uuid_timestamp_route_and_calendar():
    message = new_request(GOOD)
    uuid.UUID(message["UUID"])
    assert message["Timestamp"].endswith("+00:00")
    assert message["Origin"] == "JFK" and message["Route"] == "JFK-LAX"
    assert message["DepDelay"] == -4.0
    # 2013-01-01 was a Tuesday: 2 in the 1=Mon..7=Sun convention
    assert (message["DayOfWeek"], message["DayOfMonth"], message["DayOfYear"]) == (2.0, 1.0, 1.0)
    assert "Distance" not in message and "Warnings" not in message  # the scorer fills Distance
    assert new_request(GOOD, distances=DISTANCES)["Distance"] == 2475.0


def test_new_request_refuses_bad_fields():
    with pytest.raises(InvalidRequest) as err:
        new_request({**GOOD, "DepDelay": "late"})
    assert err.value.errors == {"DepDelay": "must be a number"}


def test_the_user_fields_are_the_start_of_the_request():
    assert list(Request.model_fields)[: len(FlightQuery.model_fields)] == list(FlightQuery.model_fields)
    assert list(Prediction.model_fields)[: len(Request.model_fields)] == list(Request.model_fields)


# --- the prediction ---------------------------------------------------------------------------------


def scored(message: dict, prediction: float = 3.0, **model) -> dict:
    row = parse_record(json.dumps(message).encode(), PRODUCED, DISTANCES)
    assert row["error"] == ""
    return prediction_record(row, prediction, [0.05, 0.1, 0.3000001, 0.5499999], "v20261201T034832Z",
                             "2026-12-01T03:57:46.5+00:00", **model)  # fmt: skip


def test_the_scorers_record_is_the_models_serialization():
    record = scored(seed_message())
    model = Prediction.model_validate(record)
    assert model.record() == record
    assert record["PredictionLabel"] == DELAY_LABELS[3]
    assert record["Warnings"] == ["DayOfWeek: 6 ignored: 2016-12-25 is day 7 of its week (1=Monday..7=Sunday)"]
    assert record["RequestProducedAt"] == "2026-12-01T03:57:46+00:00"
    assert "FlightNum" not in record  # null values are left out
    assert record["Flags"] == [] and "ModelAccuracy" not in record  # a scope-less model flags nothing


def test_a_flagged_prediction_is_the_models_serialization_too():
    record = scored(seed_message(), flags=["route_not_in_training_data", "date_outside_training_window"],
                    model_accuracy=0.61)  # fmt: skip
    model = Prediction.model_validate_json(orjson.dumps(record))
    assert model.record() == record
    assert model.Flags == ["route_not_in_training_data", "date_outside_training_window"]
    assert model.ModelAccuracy == 0.61


def test_a_flag_outside_the_contract_is_refused():
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        Prediction.model_validate(scored(seed_message(), flags=["looks_odd"]))


@pytest.mark.parametrize("prediction", [0.0, 1.0, 2.0, 3.0])
def test_a_prediction_round_trips_through_json(prediction):
    record = scored({**GOOD, "FlightNum": "1545", "UUID": str(uuid.uuid4())}, prediction)
    again = Prediction.model_validate_json(orjson.dumps(record))
    assert again.record() == record
    assert again.PredictionLabel == DELAY_LABELS[int(prediction)]
    assert again.Warnings == []


def test_the_canary_sensor_takes_its_answer_only_and_reads_it_as_the_contracts_prediction():
    """flightdelay.canary's functions for the deploy DAG's Kafka operators."""
    from pydantic import ValidationError

    from flightdelay.canary import answer_to, canary_messages, raise_undelivered

    class Message:  # a confluent-kafka record, as AwaitMessageTrigger hands it over
        def __init__(self, key, value):
            self._key, self._value = key, value

        def key(self):
            return self._key

        def value(self):
            return self._value

    request = {**GOOD, "FlightNum": "1545", "UUID": str(uuid.uuid4())}
    [(key, value)] = list(canary_messages(request))
    assert key == request["UUID"] and json.loads(value) == request
    record = scored(request)
    answer = answer_to(key, Message(key.encode(), orjson.dumps(record)))
    assert answer == record and json.loads(json.dumps(answer)) == answer  # a trigger event's payload
    assert answer_to(key, Message(b"another", orjson.dumps(record))) is None
    assert answer_to(key, Message(None, b"{}")) is None
    with pytest.raises(ValidationError):
        answer_to(key, Message(key.encode(), b'{"UUID": "not a prediction"}'))
    raise_undelivered(None, object())
    with pytest.raises(RuntimeError, match="not delivered"):
        raise_undelivered("Local: Message timed out", object())


def test_a_stored_prediction_keeps_its_distance_and_warnings():
    record = {**scored(seed_message(Distance=5)), "PredictionLabel": "stale"}
    model = Prediction.model_validate(record)
    assert model.Distance == 2139.0
    assert [w.split(":")[0] for w in model.Warnings] == ["DayOfWeek", "Distance"]
    assert model.PredictionLabel == DELAY_LABELS[3]  # always the label of the class


def test_a_stored_prediction_with_an_unreadable_distance_is_still_read():
    record = {**scored(seed_message()), "Distance": "far"}
    assert Prediction.model_validate(record).Distance is None


@pytest.mark.parametrize(
    "change",
    [{"Prediction": 4.0}, {"Prediction": 2.5}, {"Probabilities": [1.0]}, {"Probabilities": [0.5, 0.5, 0.5, 1.5]},
     {"ModelVersion": None}, {"ScoredAt": ...}],
)  # fmt: skip
def test_a_prediction_out_of_contract_is_refused(change):
    from pydantic import ValidationError

    record = {k: v for k, v in {**scored(seed_message()), **change}.items() if v is not ...}
    with pytest.raises(ValidationError):
        Prediction.model_validate(record)
