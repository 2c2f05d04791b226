from __future__ import annotations

import uuid

import pytest

from flightdelay.contract import InvalidRequest, new_request, validate_request

GOOD = {"Origin": "jfk", "Dest": "LAX", "Carrier": "AA", "FlightDate": "2013-01-01", "DepDelay": "-4"}


def test_new_request_fills_uuid_timestamp_route_and_calendar():
    message = new_request(GOOD)
    uuid.UUID(message["UUID"])
    assert message["Timestamp"].endswith("+00:00")
    assert message["Origin"] == "JFK" and message["Route"] == "JFK-LAX"
    assert message["DepDelay"] == -4.0
    # 2013-01-01 was a Tuesday: 2 in the 1=Mon..7=Sun convention
    assert (message["DayOfWeek"], message["DayOfMonth"], message["DayOfYear"]) == (2.0, 1.0, 1.0)


@pytest.mark.parametrize(
    "change, field",
    [
        ({"Origin": None}, "Origin"),
        ({"Origin": "JFKX"}, "Origin"),
        ({"Dest": "JFK"}, "Dest"),
        ({"Carrier": "A"}, "Carrier"),
        ({"FlightDate": "2013-02-30"}, "FlightDate"),
        ({"FlightDate": "01/02/2013"}, "FlightDate"),
        ({"DepDelay": "soon"}, "DepDelay"),
        ({"DepDelay": 100000}, "DepDelay"),
        ({"DepDelay": float("nan")}, "DepDelay"),
        ({"DepDelay": True}, "DepDelay"),
        ({"FlightNum": "12a"}, "FlightNum"),
        ({"Distance": -5}, "Distance"),
        ({"DayOfWeek": 0}, "DayOfWeek"),
        ({"DayOfWeek": 5}, "DayOfWeek"),  # a Friday is not 2013-01-01
        ({"UUID": "not-a-uuid"}, "UUID"),
        ({"Timestamp": "2013-01-01T10:00:00"}, "Timestamp"),  # no offset
    ],
)
def test_bad_fields_are_named(change, field):
    message = {**GOOD, "UUID": str(uuid.uuid4()), **change}
    with pytest.raises(InvalidRequest) as err:
        validate_request(message)
    assert field in err.value.errors


def test_distance_comes_from_history_then_great_circle():
    from flightdelay.contract import complete_request

    flown = complete_request({**GOOD, "UUID": str(uuid.uuid4())}, known_distances={("JFK", "LAX"): 2475.0})
    assert flown["Distance"] == 2475.0
    never_flown = complete_request({**GOOD, "Dest": "ANC", "UUID": str(uuid.uuid4())}, known_distances={})
    assert 3300 < never_flown["Distance"] < 3500  # JFK-ANC great circle, about 3,380 miles


def test_unknown_airport_is_a_named_error_not_a_crash():
    from flightdelay.contract import complete_request

    with pytest.raises(InvalidRequest) as err:
        complete_request({**GOOD, "Dest": "QQQ", "UUID": str(uuid.uuid4())}, known_distances={})
    assert "Dest" in err.value.errors and "QQQ" in err.value.errors["Dest"]
