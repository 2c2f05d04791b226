"""The response cache, the stream subscriptions and the shape of a served prediction."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest

from flightdelay.flights.labels import DELAY_LABELS
from flightdelay.web.config import WebConfig
from flightdelay.web.kafka_bridge import (
    PredictionCache,
    ResponseListener,
    Subscribers,
    normalize_uuid,
    prediction_view,
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_cache_forgets_the_oldest_beyond_its_size():
    cache = PredictionCache(max_entries=3, ttl_s=60)
    for key in "abcd":
        cache.put(key, {"k": key})
    assert cache.get("a") is None
    assert [cache.get(k)["k"] for k in "bcd"] == ["b", "c", "d"]
    assert len(cache) == 3


def test_a_repeated_answer_replaces_the_first_and_counts_once():
    cache = PredictionCache(max_entries=2, ttl_s=60)
    cache.put("a", {"n": 1})
    cache.put("b", {"n": 1})
    cache.put("a", {"n": 2})  # at-least-once delivery: the same UUID again
    cache.put("c", {"n": 1})  # evicts b, the least recently stored
    assert cache.get("a") == {"n": 2}
    assert cache.get("b") is None


def test_the_cache_forgets_after_its_ttl():
    clock = Clock()
    cache = PredictionCache(max_entries=10, ttl_s=5, clock=clock)
    cache.put("a", {})
    clock.now = 4.9
    assert cache.get("a") == {}
    clock.now = 5.1
    assert cache.get("a") is None
    assert len(cache) == 0


def test_a_raw_record_is_parsed_when_first_asked_for():
    cache = PredictionCache(max_entries=10, ttl_s=60)
    cache.put("a", b'{"UUID": "a", "Prediction": 1.0}')
    cache.put("b", b"not json")
    cache.put("c", b"[1, 2]")
    assert cache.get("a") == {"UUID": "a", "Prediction": 1.0}
    assert cache.get("a") is cache.get("a")  # parsed once
    assert cache.get("b") is None and cache.get("c") is None
    assert len(cache) == 1


class Record:
    """The part of a confluent_kafka Message the listener reads."""

    def __init__(self, key: bytes | None, value: bytes | None, offset: int = 0):
        self._key, self._value, self._offset = key, value, offset

    def key(self):
        return self._key

    def value(self):
        return self._value

    def partition(self):
        return 0

    def offset(self):
        return self._offset


def test_the_listener_hands_a_waiting_stream_its_answer_and_keeps_the_rest_for_later():
    cache, subs = PredictionCache(max_entries=10, ttl_s=60), Subscribers()
    listener = ResponseListener(WebConfig.from_settings(), cache, subs)
    waited, other, keyless = (str(uuid.uuid4()) for _ in range(3))
    inbox = subs.subscribe(waited)

    listener._handle(Record(waited.encode(), f'{{"UUID": "{waited}", "Prediction": 2.0}}'.encode(), 0))
    listener._handle(Record(other.encode(), f'{{"UUID": "{other}", "Prediction": 0.0}}'.encode(), 1))
    listener._handle(Record(None, f'{{"UUID": "{keyless}", "Prediction": 3.0}}'.encode(), 2))
    listener._handle(Record(None, b"junk", 3))

    assert inbox.get_nowait() == {"UUID": waited, "Prediction": 2.0}
    assert inbox.empty()
    assert cache.get(other)["Prediction"] == 0.0 and cache.get(keyless)["Prediction"] == 3.0
    assert (listener.received, listener.skipped) == (3, 1)
    assert listener._positions == {0: 4}


def test_subscribers_get_only_their_uuid_and_leave_no_trace():
    subs = Subscribers()
    mine, other = subs.subscribe("u1"), subs.subscribe("u2")
    assert subs.notify("u1", {"x": 1}) == 1
    assert mine.get_nowait() == {"x": 1}
    assert other.empty()
    subs.unsubscribe("u1", mine)
    subs.unsubscribe("u2", other)
    assert len(subs) == 0
    assert subs.notify("u1", {}) == 0


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("0b3c9a4e-3f5e-4b8a-9d55-2f1f8a6f7c11", "0b3c9a4e-3f5e-4b8a-9d55-2f1f8a6f7c11"),
        (b"0B3C9A4E-3F5E-4B8A-9D55-2F1F8A6F7C11", "0b3c9a4e-3f5e-4b8a-9d55-2f1f8a6f7c11"),
        ("nope", None),
        (None, None),
        (b"\xff", None),
    ],
)
def test_uuids_are_normalized(raw, expected):
    assert normalize_uuid(raw) == expected


def test_a_stored_prediction_is_served_as_plain_json():
    key = str(uuid.uuid4())
    stored = {
        "_id": key,
        "UUID": key,
        "Prediction": 3.0,
        "Probabilities": (0.1, 0.1, 0.2, 0.6),
        "ScoredAt": datetime(2024, 1, 1, tzinfo=timezone.utc),
    }
    view = prediction_view(stored)
    assert "_id" not in view
    assert view["PredictionLabel"] == DELAY_LABELS[3]
    assert view["Probabilities"] == [0.1, 0.1, 0.2, 0.6]
    assert view["ScoredAt"] == "2024-01-01T00:00:00+00:00"


def test_a_given_label_is_kept():
    assert prediction_view({"Prediction": 1.0, "PredictionLabel": "x"})["PredictionLabel"] == "x"


class StoreThatMustNotBeAsked:
    def __init__(self, answer=None):
        self.asked: list[str] = []
        self.answer = answer

    def find_prediction(self, key):
        self.asked.append(key)
        return self.answer


def test_a_request_sent_here_is_answered_by_the_listener_never_by_mongo(monkeypatch):
    from flightdelay.web.config import WebConfig
    from flightdelay.web.kafka_bridge import KafkaBridge

    bridge = KafkaBridge(WebConfig.from_settings())
    bridge.store = StoreThatMustNotBeAsked(answer={"UUID": "old", "Prediction": 1.0})
    monkeypatch.setattr(bridge.listener, "wait_ready", lambda timeout: True)
    monkeypatch.setattr(bridge.producer, "send", lambda topic, key, value: (0, 1))
    bridge.send_request({"UUID": "fresh"})
    assert bridge.lookup("fresh") is None and bridge.store.asked == []  # WAIT, no collection scan
    bridge.cache.put("fresh", {"UUID": "fresh", "Prediction": 2.0})
    assert bridge.lookup("fresh")["Prediction"] == 2.0
    # an id this app never sent (older, or another process's) falls back to MongoDB
    assert bridge.lookup("old")["Prediction"] == 1.0 and bridge.store.asked == ["old"]
