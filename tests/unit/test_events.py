"""Retrain events: what `flightdelay retrain` sends and what the AssetWatcher's filter picks."""

from __future__ import annotations

import json

import pytest

from flightdelay.ops.events import RETRAIN, retrain_event, retrain_requested, training_params


class Message:
    """The one method of a confluent-kafka Message the filter reads."""

    def __init__(self, value: bytes | None):
        self._value = value

    def value(self) -> bytes | None:
        return self._value


def test_a_retrain_event_names_why_who_and_its_params():
    event = retrain_event("drift on Origin", requested_by="ops", params={"num_trees": "50", "margin": 0})
    assert event["type"] == RETRAIN and event["reason"] == "drift on Origin" and event["requested_by"] == "ops"
    assert event["params"] == {"num_trees": 50, "margin": 0.0}
    assert "params" not in retrain_event("weekly")


def test_unknown_or_malformed_params_are_refused_by_name():
    with pytest.raises(ValueError, match="num_tres"):
        training_params({"num_tres": 5})
    with pytest.raises(ValueError):
        training_params({"max_depth": "deep"})


@pytest.mark.parametrize(
    "value",
    [b"not json", b"[1, 2]", json.dumps({"type": "drift"}).encode(), None, b"\xff\xfe"],
)
def test_the_watcher_passes_by_anything_but_a_retrain_event(value):
    assert retrain_requested(Message(value)) is None


def test_the_watcher_hands_the_event_on_as_its_payload():
    event = retrain_event("by hand", params={"max_depth": 3})
    assert retrain_requested(Message(json.dumps(event).encode())) == event
