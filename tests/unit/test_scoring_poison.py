"""Poison requests in the scorer's pure parts: the size limit, bounded dead letters, records no
rule foresaw, and rows the model cannot score. The same through the real platform:
tests/integration/test_poison_requests.py."""

from __future__ import annotations

import json
import os
import uuid
from datetime import datetime, timezone

import orjson
import pytest

from flightdelay.contract import MAX_MESSAGE_BYTES
from flightdelay.flights.geo import RouteDistances, load_airports
from flightdelay.scoring.dead_letters import MAX_LETTER_BYTES, letter, undelivered_letter
from flightdelay.scoring.requests import parse_record
from flightdelay.scoring.serving import predict_each
from flightdelay.scoring.sinks import AS_JSON, dead_letter

AIRPORTS = load_airports()
PRODUCED = datetime(2026, 11, 27, 6, 0, tzinfo=timezone.utc)
LIMIT_REASON = f"over the {MAX_MESSAGE_BYTES}-byte limit"


def request(**change) -> dict:
    return {"Origin": "JFK", "Dest": "LAX", "Carrier": "AA", "FlightDate": "2013-06-03",
            "DepDelay": 12, "UUID": str(uuid.uuid4())} | change  # fmt: skip


def parse(value: bytes | None, size: int | None = None) -> dict:
    row = parse_record(value, PRODUCED, RouteDistances.fixed({("JFK", "LAX"): 2475.0}, AIRPORTS), size=size)
    row["source"] = "flask-ml-delays-request:0:42"
    return row


def sent(row: dict) -> tuple[str | None, bytes]:
    """The dead letter of a row as KafkaSink puts it on the topic: key and serialized value."""
    key, value = dead_letter(row)
    return key, orjson.dumps(value, option=AS_JSON)


def test_a_request_at_the_limit_is_scored_and_one_byte_more_is_refused():
    body = json.dumps(request()).encode()
    at_limit = body + b" " * (MAX_MESSAGE_BYTES - len(body))  # JSON allows trailing whitespace
    assert parse(at_limit)["error"] == ""
    row = parse(at_limit + b" ")
    assert row["error"] == f"request is {MAX_MESSAGE_BYTES + 1} bytes, {LIMIT_REASON}"


def test_an_oversized_request_is_refused_by_its_size_alone():
    # the scorer hands over only the start of a big value and its size: a valid request as the
    # start does not make the record valid
    start = json.dumps(request()).encode()
    row = parse(start, size=600_000)
    assert row["error"] == f"request is 600000 bytes, {LIMIT_REASON}"
    assert row["UUID"] is None and row["Origin"] is None  # not parsed


@pytest.mark.parametrize(
    "name, value",
    [
        ("binary", os.urandom(600_000)),
        ("control bytes, 6 bytes each once escaped", b"\x01" * 600_000),
        ("quote-heavy JSON, escaping doubles it", b'{"UUID": "' + b'\\"' * 250_000 + b'"}'),
        ("raw quotes", b'"' * 500_000),
        ("huge valid-looking JSON", json.dumps(request(FlightNum="1" * 900_000)).encode()),
        ("unicode, 4 bytes a character", ("✈️🛬" * 100_000).encode()),
        ("near the broker's limit", os.urandom(1_048_000)),
    ],
)
def test_the_dead_letter_of_any_oversized_request_fits_and_says_it_was_cut(name, value):
    row = parse(value)
    key, serialized = sent(row)
    assert len(serialized) <= MAX_LETTER_BYTES, name
    letter_ = orjson.loads(serialized)
    assert letter_["reason"] == f"request is {len(value)} bytes, {LIMIT_REASON}"
    assert letter_["truncated"] is True and letter_["payload_bytes"] == len(value)
    assert letter_["source"] == "flask-ml-delays-request:0:42"
    # the payload is the start of the original (bytes that are not UTF-8 as U+FFFD)
    assert letter_["payload"] == value[:MAX_MESSAGE_BYTES].decode("utf-8", errors="replace")


def test_the_dead_letter_of_a_small_bad_request_keeps_it_whole():
    value = json.dumps(request(DepDelay="late", Note="é ✈ \u0000 \"quoted\"")).encode()
    key, serialized = sent(parse(value))
    letter_ = orjson.loads(serialized)
    assert letter_["payload"] == value.decode() and letter_["truncated"] is False
    assert letter_["payload_bytes"] == len(value)
    assert "DepDelay" in letter_["reason"]
    assert key == json.loads(value)["UUID"]


def test_a_multibyte_character_cut_in_half_becomes_a_replacement_character():
    value = b"a" * (MAX_MESSAGE_BYTES - 1) + "é".encode() + b"b" * 10
    payload = orjson.loads(sent(parse(value))[1])["payload"]
    assert payload == "a" * (MAX_MESSAGE_BYTES - 1) + "\ufffd"


def test_every_part_of_a_letter_is_bounded_and_encodable():
    key, value = letter("k" * 20_000 + "\ud800", b"x", "r" * 50_000 + "\udfff", source="s" * 10_000)
    assert len(key) == 128
    serialized = orjson.dumps(value, option=AS_JSON)  # a lone surrogate would make this raise
    assert len(serialized) < 4_000
    assert len(value["reason"]) == 1000


def test_a_long_uuid_string_gives_a_short_key():
    key, serialized = sent(parse(json.dumps(request(UUID="x" * 15_000)).encode()))
    assert key == "x" * 128
    assert "UUID: must be a UUID" in orjson.loads(serialized)["reason"]


@pytest.mark.parametrize(
    "value, reason",
    [
        (b"[1, 2, 3]", "not a JSON object: list"),
        (b"42", "not a JSON object: int"),
        (b'"just a string"', "not a JSON object: str"),
        (b"null", "not a JSON object: NoneType"),
        (b"", "not valid JSON"),
        (None, "not valid JSON"),  # a tombstone
        (b"[" * 5000, "not valid JSON"),  # nesting beyond the parser's depth limit
        (json.dumps(request(UUID={"$gt": ""})).encode(), "UUID: must be a UUID"),
        (json.dumps(request(Origin={"$ne": None})).encode(), "Origin: must be"),
        (json.dumps(request(DepDelay={"$gt": 0})).encode(), "DepDelay: must be a number"),
    ],
)
def test_wrong_shapes_and_operator_objects_are_dead_lettered_with_a_reason(value, reason):
    row = parse(value)
    assert reason in row["error"]
    assert orjson.loads(sent(row)[1])["reason"] == row["error"]


class BrokenAirports(dict):
    """Reference data that fails in a way no validation rule expects."""

    def __getitem__(self, code):
        raise RuntimeError("airport table unreadable")


def test_a_record_no_rule_foresaw_is_dead_lettered_not_raised():
    value = json.dumps(request(Dest="ANC")).encode()  # an unflown route: the airports are consulted
    row = parse_record(value, PRODUCED, RouteDistances.fixed({}, BrokenAirports(AIRPORTS)))
    assert row["error"] == "cannot be handled: RuntimeError: airport table unreadable"


def test_a_response_kafka_refused_becomes_a_small_note():
    response = orjson.dumps({"UUID": "u1", "Note": "\u0000" * 2_000_000})
    key, value = undelivered_letter("flask-ml-delays-responses", "u1", response, "Broker: Message size too large")
    assert key == "u1"
    assert value["reason"] == "not delivered to flask-ml-delays-responses: Broker: Message size too large"
    assert value["truncated"] is True and value["payload_bytes"] == len(response)
    assert len(orjson.dumps(value, option=AS_JSON)) < 8_000


def scores_unless_poisoned(rows):
    if any(row.get("poison") for row in rows):
        raise ValueError("cannot encode this row")
    return [(float(i % 4), [0.25] * 4) for i, _ in enumerate(rows)]


def test_a_row_the_model_cannot_score_spares_the_others():
    rows = [{"n": 0}, {"n": 1, "poison": True}, {"n": 2}]
    scored, failed = predict_each(scores_unless_poisoned, rows)
    assert [row["n"] for row, _ in scored] == [0, 2]
    assert failed == [(rows[1], "cannot be scored: ValueError: cannot encode this row")]


def test_an_error_that_is_not_the_rows_fails_the_batch():
    def cluster_down(rows):
        raise ConnectionError("Spark master unreachable")

    with pytest.raises(ConnectionError):  # not the rows' fault: the batch is replayed
        predict_each(cluster_down, [{"n": 0}])


def test_an_outage_of_the_store_is_waited_out_but_a_bad_record_is_not():
    from pymongo.errors import AutoReconnect, OperationFailure

    from flightdelay.scoring.sinks import store_unreachable

    assert store_unreachable(AutoReconnect("connection refused"))
    postgres_down = "failed to connect to `user=ferretdb database=ferretdb`: dial tcp 127.0.0.1:5432: connection refused"
    assert store_unreachable(OperationFailure(postgres_down))
    assert not store_unreachable(OperationFailure("document is too large"))
    assert not store_unreachable(ValueError("bad value"))
