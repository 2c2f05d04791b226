"""FerretDB's storage form of a prediction, as the scorer writes it straight into PostgreSQL
(flightdelay.store.direct_writes). Equality with FerretDB's own encoding is proved against the real
server in tests/integration/test_store.py; these pin the rules."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import orjson
import pytest

from flightdelay.contract import prediction_record
from flightdelay.store.direct_writes import NotEncodable, encode_all, stored_form


def _stored(document: dict) -> dict:
    return orjson.loads(stored_form(document))


def test_each_value_carries_the_bson_type_pymongo_would_send():
    stored = _stored({"_id": "k", "small": 7, "big": 2**31, "negative": -(2**31), "ratio": 0.5, "whole": 3.0,
                      "flag": True, "nothing": None, "text": "x"})  # fmt: skip
    types = {name: entry["t"] for name, entry in stored["$s"]["p"].items()}
    assert types == {"_id": "string", "small": "int", "big": "long", "negative": "int", "ratio": "double",
                     "whole": "double", "flag": "bool", "nothing": "null", "text": "string"}  # fmt: skip
    assert stored["$s"]["$k"] == ["_id", "small", "big", "negative", "ratio", "whole", "flag", "nothing", "text"]
    assert stored["whole"] == 3.0 and stored["big"] == 2**31


def test_arrays_and_documents_describe_their_items():
    document = {"_id": "k", "Probabilities": [0.25, 0.75], "Flags": [], "Nested": {"a": 1, "b": ["x"]}, "Empty": {}}
    stored = _stored(document)
    schema = stored["$s"]["p"]
    assert schema["Probabilities"] == {"t": "array", "i": [{"t": "double"}, {"t": "double"}]}
    assert schema["Flags"] == {"t": "array", "i": []}
    nested = {"p": {"a": {"t": "int"}, "b": {"t": "array", "i": [{"t": "string"}]}}, "$k": ["a", "b"]}
    assert schema["Nested"] == {"t": "object", "$s": nested}
    assert schema["Empty"] == {"t": "object", "$s": {}}


def test_the_schema_cache_never_mixes_two_shapes():
    """Same keys, different kinds (an int's size, an array's length): each gets its own schema."""
    first = _stored({"_id": "a", "n": 1, "items": [0.5]})
    second = _stored({"_id": "b", "n": 2**40, "items": [0.5, 0.25]})
    third = _stored({"_id": "c", "n": 1, "items": ["text"]})
    assert first["$s"]["p"]["n"] == {"t": "int"} and second["$s"]["p"]["n"] == {"t": "long"}
    assert len(second["$s"]["p"]["items"]["i"]) == 2
    assert third["$s"]["p"]["items"]["i"] == [{"t": "string"}]
    assert _stored({"_id": "a", "n": 1, "items": [0.5]}) == first


def test_numpy_doubles_are_doubles():
    stored = _stored({"_id": "k", "p": np.float64(0.125), "ps": [np.float64(0.5)]})
    assert stored["p"] == 0.125 and stored["$s"]["p"]["p"] == {"t": "double"}
    assert stored["$s"]["p"]["ps"]["i"] == [{"t": "double"}]


@pytest.mark.parametrize(
    "document",
    [
        {"_id": "k", "x": float("nan")},
        {"_id": "k", "x": float("inf")},
        {"_id": "k", "$where": 1},
        {"_id": "k", "a.b": 1},
        {"_id": "k", "when": datetime(2026, 12, 2, tzinfo=timezone.utc)},
        {"_id": "k", "raw": b"bytes"},
    ],
)
def test_what_is_not_written_here_is_left_to_ferretdb(document):
    with pytest.raises(NotEncodable):
        stored_form(document)
    rows, others = encode_all([{"_id": "fine", "x": 1.0}, document])
    assert len(rows) == 1 and others == [document]


def test_a_real_prediction_record_is_encoded_whole():
    row = {"UUID": "u-1", "Origin": "JFK", "Dest": "LAX", "Carrier": "AA", "FlightDate": "2026-12-02", "DepDelay": -3.0,
           "Distance": 2475.0, "DayOfWeek": 3, "Warnings": []}  # fmt: skip
    scored_at = "2026-12-02T05:00:00+00:00"
    record = prediction_record(row, 1.0, [0.1, 0.6, 0.2, 0.1], "v1", scored_at, ["unseen route"], 0.52)
    document = {"_id": record["UUID"], **record, "ScoredDay": "2026-12-02"}
    stored = _stored(document)
    assert {name: stored[name] for name in document} == document
    assert stored["$s"]["$k"] == list(document)
