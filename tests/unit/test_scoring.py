"""The scorer's pure parts: parsing raw Kafka values and swapping models between batches."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timezone

from flightdelay.flights.geo import RouteDistances, load_airports
from flightdelay.scoring.model_holder import ModelHolder
from flightdelay.scoring.requests import parse_record

AIRPORTS = load_airports()
PRODUCED = datetime(2026, 11, 27, 6, 0, tzinfo=timezone.utc)


def request(**change) -> bytes:
    message = {"Origin": "JFK", "Dest": "LAX", "Carrier": "AA", "FlightDate": "2013-06-03",
               "DepDelay": 12, "UUID": str(uuid.uuid4())} | change  # fmt: skip
    return json.dumps(message).encode()


def test_valid_request_is_completed():
    row = parse_record(request(), PRODUCED, RouteDistances.fixed({("JFK", "LAX"): 2475.0}, AIRPORTS))
    assert row["error"] == ""
    assert row["Distance"] == 2475.0
    assert row["DayOfWeek"] == 1.0  # 2013-06-03 was a Monday
    assert row["Route"] == "JFK-LAX"
    assert row["RequestProducedAt"] == "2026-11-27T06:00:00+00:00"


def test_unflown_route_gets_great_circle_distance():
    row = parse_record(request(Dest="ANC"), PRODUCED, RouteDistances.fixed({}, AIRPORTS))
    assert row["error"] == "" and 3300 < row["Distance"] < 3500


def test_each_kind_of_bad_request_gets_a_reason_and_keeps_its_payload():
    cases = {
        b"{not json": "not valid JSON",
        b'"just a string"': "not a JSON object",
        request(DepDelay="late"): "DepDelay",
        request(Origin=None): "Origin",
        request(Dest="QQQ"): "QQQ",
        request(FlightDate="2013-13-01"): "FlightDate",
    }
    for value, reason in cases.items():
        row = parse_record(value, PRODUCED, RouteDistances.fixed({}, AIRPORTS))
        assert reason in row["error"], (value, row["error"])
        assert row["payload"] == value and row["payload_bytes"] == len(value)


def test_model_swaps_only_when_the_current_version_changes():
    versions = iter(["v1", "v1", "v2"])
    loads = []
    holder = ModelHolder(current_version=lambda: next(versions), load=lambda v: loads.append(v) or f"model-{v}",
                         log=lambda _: None)  # fmt: skip
    assert holder.refresh() is True and holder.get().version == "v1"
    assert holder.refresh() is False
    assert holder.refresh() is True and holder.get().model == "model-v2"
    assert loads == ["v1", "v2"]


def test_failed_load_keeps_the_model_in_use():
    holder = ModelHolder(current_version=lambda: "v1", load=lambda v: "m1", log=lambda _: None)
    holder.refresh()
    holder._current_version = lambda: "v2"

    def broken(_v):
        raise OSError("HDFS down")

    holder._load = broken
    try:
        holder.refresh()
    except OSError:
        pass
    assert holder.get().version == "v1"


class RecordingSink:
    """Stands in for MongoSink in this pure ordering test: records calls, can be made to fail."""

    def __init__(self):
        self.inserted: list[list[dict]] = []
        self.fail = False

    def insert(self, predictions):
        time.sleep(0.05)
        if self.fail:
            raise RuntimeError("MongoDB refused")
        self.inserted.append(predictions)
        return len(predictions)


def test_mongo_trail_waits_for_the_previous_batch_and_reports_its_error():
    import pytest

    from flightdelay.scoring.sinks import MongoTrail

    sink = RecordingSink()
    trail = MongoTrail(sink)
    trail.follow([{"UUID": "a"}])
    assert sink.inserted == []  # batch 1 runs in the background
    trail.follow([{"UUID": "b"}])
    assert sink.inserted == [[{"UUID": "a"}]]  # batch 2 returned only after batch 1 was stored
    trail.wait()
    assert sink.inserted[-1] == [{"UUID": "b"}]
    sink.fail = True
    trail.follow([{"UUID": "c"}])
    with pytest.raises(RuntimeError, match="refused"):
        trail.follow([])  # the next batch fails, so Spark replays it and nothing is lost
