"""A request body is bounded before it is parsed or converted: each hostile case of issue #12 is a
400 (or 413) naming the body or the field, through Flask's test client with no service running.
Before, a 400-digit integer (OverflowError) and nesting 1,000 deep (RecursionError) were 500s."""

from __future__ import annotations

import io
import time

import pytest

from flightdelay.contract import (
    MAX_JSON_DEPTH,
    MAX_MESSAGE_BYTES,
    InvalidRequest,
    JSONBoundsError,
    json_depth_exceeds,
    load_json,
    read_request,
)
from flightdelay.flights.geo import RouteDistances
from flightdelay.web import close_app, create_app
from flightdelay.web.config import WebConfig
from tests.unit.test_web_fuzz import MongoDown
from tests.unit.test_web_routes import closed_port

PREDICT = "/flights/delays/predict/classify_realtime"
GOOD = '"Origin": "JFK", "Dest": "LAX", "Carrier": "AA", "FlightDate": "2016-12-25"'


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    port = closed_port()
    config = WebConfig.from_settings(
        kafka_bootstrap=f"127.0.0.1:{port}",
        mongo_uri=f"mongodb://127.0.0.1:{port}/",
        produce_timeout_s=0.3,
        probe_timeout_s=0.3,
        carriers_from_history=False,
        cache_dir=tmp_path_factory.mktemp("web"),
        testing=True,
    )
    app = create_app(config)
    app.extensions["flightdelay"]["bridge"].store = MongoDown(config)  # timed calls: no 0.5 s waits
    yield app.test_client()
    close_app(app)


def post(client, body: bytes | str, content_type: str | None = "application/json"):
    body = body.encode() if isinstance(body, str) else body
    started = time.monotonic()
    reply = client.post(PREDICT, data=body, content_type=content_type)
    assert time.monotonic() - started < 2.0
    return reply


@pytest.mark.parametrize(
    "body, words",
    [
        pytest.param("{%s, \"DepDelay\": %s}" % (GOOD, "9" * 400), "number longer than 32", id="int-400-digits"),
        pytest.param("{%s, \"DepDelay\": %s}" % (GOOD, "9" * 5000), "number longer than 32", id="int-5000-digits"),
        pytest.param("{%s, \"DepDelay\": 0.%s1}" % (GOOD, "0" * 200), "number longer than 32", id="long-fraction"),
        pytest.param("{%s, \"DepDelay\": NaN}" % GOOD, "NaN", id="nan"),
        pytest.param("{%s, \"DepDelay\": Infinity}" % GOOD, "Infinity", id="infinity"),
        pytest.param("{%s, \"DepDelay\": -Infinity}" % GOOD, "-Infinity", id="minus-infinity"),
        pytest.param("[" * 1000 + "]" * 1000, "deeper than 4", id="array-1000-deep"),
        pytest.param('{"Origin": %s}' % ("[" * 1000 + "]" * 1000), "deeper than 4", id="value-1000-deep"),
        pytest.param('{"a":' * 2000 + "1" + "}" * 2000, "deeper than 4", id="objects-2000-deep"),
        pytest.param("{%s, \"DepDelay\": 5, \"Origin\": \"EWR\"}" % GOOD, "'Origin' more than once", id="dup-key"),
    ],
)
def test_a_body_beyond_the_bounds_is_400_naming_the_body(client, body, words):
    reply = post(client, body)
    assert reply.status_code == 400, reply.json
    assert words in reply.json["errors"]["body"]


@pytest.mark.parametrize(
    "delay, words",
    [
        pytest.param({"$gt": ""}, "number", id="operator-object"),
        pytest.param("١٢", "number", id="arabic-indic-digits"),
        pytest.param("１２", "number", id="fullwidth-digits"),
        pytest.param("1_000", "number", id="underscores"),
        pytest.param("9" * 400, "number", id="digits-as-text"),
        pytest.param("NaN", "number", id="nan-as-text"),
        pytest.param([[[1]]], "number", id="nested-list"),
    ],
)
def test_a_strange_delay_is_400_naming_the_field(client, delay, words):
    import json

    body = json.dumps({"Origin": "JFK", "Dest": "LAX", "Carrier": "AA", "FlightDate": "2016-12-25", "DepDelay": delay})
    reply = post(client, body)
    assert reply.status_code == 400, reply.json
    assert words in reply.json["errors"]["DepDelay"]


def test_operator_objects_as_codes_or_keys_are_400(client):
    reply = post(client, '{"Origin": {"$gt": ""}, "Dest": {"$ne": null}, "Carrier": "AA", "FlightDate": "2016-12-25", '
                         '"DepDelay": 5, "$where": "1 == 1"}')  # fmt: skip
    assert reply.status_code == 400
    assert "not a request field" in reply.json["errors"]["$where"]


@pytest.mark.parametrize("size", [1 << 20, 10 << 20], ids=["1MB", "10MB"])
@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded", None])
def test_megabyte_bodies_are_413_at_once(client, size, content_type):
    reply = post(client, b'{"Origin": "' + b"A" * size + b'"}', content_type)
    assert reply.status_code == 413
    assert str(MAX_MESSAGE_BYTES) in reply.json["message"]


@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded"])
def test_a_chunked_body_beyond_the_limit_is_413_not_its_truncated_start(client, content_type):
    # valid fields, then padding: without a Content-Length only the limit stops the read
    body = b'{%s, "DepDelay": 5}' % GOOD.encode() + b" " * (2 * MAX_MESSAGE_BYTES)
    if content_type != "application/json":
        body = b"Origin=JFK&Dest=LAX&Carrier=AA&FlightDate=2016-12-25&DepDelay=5&x=" + b"a" * (2 * MAX_MESSAGE_BYTES)
    reply = client.post(
        PREDICT,
        input_stream=io.BytesIO(body),
        content_type=content_type,
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},  # what gunicorn says of a chunked body
    )
    assert reply.status_code == 413


@pytest.mark.parametrize(
    "body, content_type, words",
    [
        pytest.param(b"<flight><Origin>JFK</Origin></flight>", "application/xml", "not valid JSON", id="xml"),
        pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00", "image/png", "UTF-8", id="png"),
        pytest.param('{"Origin": "JFK"}'.encode("utf-16"), "application/json", "UTF-8", id="utf-16"),
        pytest.param(b'--zzz\r\nContent-Disposition: form-data; name="Origin"; filename="a.json"\r\n\r\n'
                     b"JFK\r\n--zzz--\r\n", "multipart/form-data; boundary=zzz", "file uploads", id="multipart-file"),
    ],
)  # fmt: skip
def test_wrong_content_types_are_400(client, body, content_type, words):
    reply = post(client, body, content_type)
    assert reply.status_code == 400
    assert words in reply.json["errors"]["body"]


# --- the contract's bounded parser ---------------------------------------------------------------


def test_depth_is_counted_outside_strings_only():
    assert not json_depth_exceeds('{"a": "[[[[[[[[[[{{{{{{"}')
    assert not json_depth_exceeds("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH)
    assert json_depth_exceeds("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1))
    assert json_depth_exceeds('["\\"", ' * 5 + "0" + "]" * 5)  # an escaped quote does not end a string


def test_the_depth_scan_is_linear_for_any_quoting():
    for text in ('"' + '\\"' * 8000, '"' + "\\" * 16000, '"a' * 8000, "[" * 16000):
        started = time.perf_counter()
        json_depth_exceeds(text)
        assert time.perf_counter() - started < 0.05


def test_load_json_keeps_what_a_request_needs():
    assert load_json('{"DepDelay": -12.5, "FlightNum": "1545", "n": null, "ok": true}') == {
        "DepDelay": -12.5, "FlightNum": "1545", "n": None, "ok": True}  # fmt: skip
    with pytest.raises(JSONBoundsError):
        load_json('{"a": 1, "a": 1}')
    with pytest.raises(ValueError):
        load_json("{not json")


@pytest.mark.parametrize("delay", [10**400, -(10**400), "1" * 33, "١٢", "1_000", "nan", "inf", " "])
def test_the_contract_refuses_numbers_it_cannot_bound(delay):
    message = {"Origin": "JFK", "Dest": "LAX", "Carrier": "AA", "FlightDate": "2016-12-25", "DepDelay": delay,
               "UUID": "3f1c1a36-4d57-4a37-9b1e-0c1b8a3a7f10"}  # fmt: skip
    with pytest.raises(InvalidRequest) as err:
        read_request(message, RouteDistances.fixed({("JFK", "LAX"): 2475.0}))
    assert "DepDelay" in err.value.errors


@pytest.mark.parametrize("delay, value", [(" 12 ", 12.0), ("-4", -4.0), ("1e2", 100.0), (".5", 0.5), (7, 7.0)])
def test_the_contract_still_takes_plain_numbers(delay, value):
    message = {"Origin": "JFK", "Dest": "LAX", "Carrier": "AA", "FlightDate": "2016-12-25", "DepDelay": delay,
               "UUID": "3f1c1a36-4d57-4a37-9b1e-0c1b8a3a7f10"}  # fmt: skip
    assert read_request(message, RouteDistances.fixed({("JFK", "LAX"): 2475.0})).DepDelay == value
