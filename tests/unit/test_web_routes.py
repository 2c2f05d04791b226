"""The front end's routes through Flask's test client, with no service running: Kafka and MongoDB
are pointed at a port nobody listens on, so a valid request ends in 503 (Kafka unavailable) and
every kind of bad input in 400 naming the field, before any service is asked."""

from __future__ import annotations

import contextlib
import json
import socket
import uuid
from datetime import datetime, timezone

import pytest

from flightdelay.contract import MAX_MESSAGE_BYTES
from flightdelay.flights.geo import RouteDistances
from flightdelay.flights.labels import DELAY_LABELS
from flightdelay.waiting import WaitTimeout, wait_until
from flightdelay.web import close_app, create_app
from flightdelay.web.config import WebConfig
from flightdelay.web.routes import build_request

PREDICT = "/flights/delays/predict/classify_realtime"
RESPONSE = "/flights/delays/predict/classify_realtime/response/{}"
STREAM = "/flights/delays/predict/classify_realtime/stream/{}"
PAGE = "/flights/delays/predict_kafka"

GOOD = {"Origin": "JFK", "Dest": "LAX", "Carrier": "AA", "FlightDate": "2016-12-25", "DepDelay": 5}


def closed_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def offline_config(cache_dir, **overrides) -> WebConfig:
    """A test config whose Kafka and MongoDB are a closed port, with short waits."""
    port = closed_port()
    return WebConfig.from_settings(
        **{
            "kafka_bootstrap": f"127.0.0.1:{port}",
            "mongo_uri": f"mongodb://127.0.0.1:{port}/",
            "produce_timeout_s": 0.5,
            "probe_timeout_s": 0.3,
            "stream_timeout_s": 0.6,
            "stream_heartbeat_s": 0.2,
            "stream_mongo_check_s": 0.2,
            "carriers_from_history": False,
            "cache_dir": cache_dir,
            "testing": True,
            **overrides,
        }
    )


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    app = create_app(offline_config(tmp_path_factory.mktemp("web")))
    yield app
    close_app(app)


@pytest.fixture
def client(app):
    return app.test_client()


# --- good requests ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        GOOD,
        {**GOOD, "FlightNum": "1545"},
        {**GOOD, "DepDelay": "-12"},  # numbers may come as text (forms)
        {**GOOD, "DepDelay": 0.5},
        {**GOOD, "Origin": "jfk", "Dest": " lax ", "Carrier": "aa"},  # normalized
        {**GOOD, "Origin": "SJU", "Dest": "STT"},  # a pair never flown: great-circle distance
        {**GOOD, "FlightNum": ""},  # optional and empty
    ],
)
def test_good_json_passes_validation_and_kafka_down_is_503(client, fields):
    reply = client.post(PREDICT, json=fields)
    assert reply.status_code == 503, reply.json
    assert reply.json["status"] == "UNAVAILABLE"
    assert reply.json["service"] == "kafka"
    assert "Kafka" in reply.json["message"]


def test_good_form_passes_validation(client):
    reply = client.post(PREDICT, data={k: str(v) for k, v in GOOD.items()})
    assert reply.status_code == 503
    assert reply.json["service"] == "kafka"


def test_a_request_is_completed_by_the_server():
    now = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    distances = RouteDistances.fixed({("JFK", "LAX"): 2475.0})
    message = build_request({**GOOD, "FlightDate": "2024-01-07"}, distances, now=now)
    assert message["Distance"] == 2475.0  # the history wins
    assert message["DayOfWeek"] == 7.0  # 2024-01-07 is a Sunday: 1=Mon..7=Sun
    assert (message["DayOfMonth"], message["DayOfYear"]) == (7.0, 7.0)
    assert message["Route"] == "JFK-LAX"
    assert message["Timestamp"] == "2024-01-02T03:04:05+00:00"
    assert uuid.UUID(message["UUID"]).version == 4


def test_an_unflown_route_gets_the_great_circle_distance():
    message = build_request({**GOOD, "Origin": "SJU", "Dest": "STT"}, RouteDistances.fixed({}))
    assert 60 < message["Distance"] < 90  # San Juan - St Thomas is about 70 miles


# --- bad requests ----------------------------------------------------------------------------------


def without(field):
    return {k: v for k, v in GOOD.items() if k != field}


BAD = [
    pytest.param(without("Origin"), "Origin", "required", id="missing-origin"),
    pytest.param(without("Dest"), "Dest", "required", id="missing-dest"),
    pytest.param(without("Carrier"), "Carrier", "required", id="missing-carrier"),
    pytest.param(without("FlightDate"), "FlightDate", "required", id="missing-date"),
    pytest.param(without("DepDelay"), "DepDelay", "required", id="missing-delay"),
    pytest.param({**GOOD, "Origin": ""}, "Origin", "required", id="empty-origin"),
    pytest.param({**GOOD, "Origin": "JFKX"}, "Origin", "airport code", id="long-code"),
    pytest.param({**GOOD, "Origin": "J-K"}, "Origin", "airport code", id="bad-code"),
    pytest.param({**GOOD, "Origin": "QQQ"}, "Origin", "unknown airport", id="unknown-origin"),
    pytest.param({**GOOD, "Dest": "QQQ"}, "Dest", "unknown airport", id="unknown-dest"),
    pytest.param({**GOOD, "Dest": "JFK"}, "Dest", "differ", id="same-airports"),
    pytest.param({**GOOD, "Carrier": "A"}, "Carrier", "carrier code", id="short-carrier"),
    pytest.param({**GOOD, "Carrier": ["AA"]}, "Carrier", "carrier code", id="list-carrier"),
    pytest.param({**GOOD, "FlightDate": "25/12/2016"}, "FlightDate", "YYYY-MM-DD", id="date-format"),
    pytest.param({**GOOD, "FlightDate": "2023-02-30"}, "FlightDate", "day", id="impossible-date"),
    pytest.param({**GOOD, "FlightDate": "1900-01-01"}, "FlightDate", "between", id="date-too-old"),
    pytest.param({**GOOD, "FlightDate": 20161225}, "FlightDate", "YYYY-MM-DD", id="date-number"),
    pytest.param({**GOOD, "DepDelay": "soon"}, "DepDelay", "number", id="delay-text"),
    pytest.param({**GOOD, "DepDelay": True}, "DepDelay", "number", id="delay-bool"),
    pytest.param({**GOOD, "DepDelay": {"m": 5}}, "DepDelay", "number", id="delay-object"),
    pytest.param({**GOOD, "DepDelay": 99999}, "DepDelay", "between", id="delay-absurd"),
    pytest.param({**GOOD, "DepDelay": -2000}, "DepDelay", "between", id="delay-absurd-early"),
    pytest.param({**GOOD, "DepDelay": "NaN"}, "DepDelay", "number", id="delay-nan"),
    pytest.param({**GOOD, "DepDelay": "1e400"}, "DepDelay", "number", id="delay-infinite"),
    pytest.param({**GOOD, "FlightNum": "12a"}, "FlightNum", "digits", id="flightnum-letters"),
    pytest.param({**GOOD, "FlightNum": "123456"}, "FlightNum", "digits", id="flightnum-long"),
    pytest.param({**GOOD, "UUID": str(uuid.uuid4())}, "UUID", "filled by the server", id="uuid-given"),
    pytest.param({**GOOD, "Distance": 10}, "Distance", "filled by the server", id="distance-given"),
    pytest.param({**GOOD, "Prediction": 3}, "Prediction", "not a request field", id="unknown-field"),
]


@pytest.mark.parametrize("fields, field, words", BAD)
def test_bad_json_is_400_naming_the_field(client, fields, field, words):
    reply = client.post(PREDICT, json=fields)
    assert reply.status_code == 400, reply.json
    assert reply.json["status"] == "ERROR"
    assert field in reply.json["errors"]
    assert words in reply.json["errors"][field]
    assert field in reply.json["message"]


@pytest.mark.parametrize(
    "fields, field, words",
    [
        (without("Origin"), "Origin", "required"),
        ({**GOOD, "Dest": "QQQ"}, "Dest", "unknown airport"),
        ({**GOOD, "FlightDate": "2016-13-01"}, "FlightDate", "month"),
        ({**GOOD, "DepDelay": "ten"}, "DepDelay", "number"),
        ({**GOOD, "DepDelay": "1441"}, "DepDelay", "between"),
        ({**GOOD, "FlightNum": "AA12"}, "FlightNum", "digits"),
    ],
)
def test_bad_form_is_400_naming_the_field(client, fields, field, words):
    reply = client.post(PREDICT, data={k: str(v) for k, v in fields.items()})
    assert reply.status_code == 400
    assert words in reply.json["errors"][field]


def test_every_bad_field_is_named_at_once(client):
    reply = client.post(PREDICT, json={"Origin": "1", "Dest": "", "Carrier": "AA", "FlightDate": "x", "DepDelay": "y"})
    assert reply.status_code == 400
    assert set(reply.json["errors"]) == {"Origin", "Dest", "FlightDate", "DepDelay"}


def test_a_field_given_twice_in_a_form_is_400(client):
    body = "Origin=JFK&Dest=LAX&Carrier=AA&FlightDate=2016-12-25&DepDelay=5&Origin=EWR"
    reply = client.post(PREDICT, data=body, content_type="application/x-www-form-urlencoded")
    assert reply.status_code == 400
    assert "more than once" in reply.json["errors"]["Origin"]


@pytest.mark.parametrize(
    "body, content_type, words",
    [
        pytest.param(b"{not json", "application/json", "not valid JSON", id="broken-json"),
        pytest.param(b"Origin=JFK", "text/plain", "not valid JSON", id="text"),
        pytest.param(b"\xff\xfe\x00", "application/json", "UTF-8", id="binary"),
        pytest.param(b"[1, 2]", "application/json", "JSON object", id="json-list"),
        pytest.param(b'"JFK"', "application/json", "JSON object", id="json-string"),
        pytest.param(b"", "application/json", "empty", id="empty"),
        pytest.param(b"   ", None, "empty", id="blank-no-type"),
    ],
)
def test_non_json_bodies_are_400(client, body, content_type, words):
    reply = client.post(PREDICT, data=body, content_type=content_type)
    assert reply.status_code == 400
    assert "body" in reply.json["errors"]
    assert words in reply.json["errors"]["body"]


@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded"])
def test_an_oversized_body_is_413(client, content_type):
    body = b'{"Origin": "' + b"A" * (MAX_MESSAGE_BYTES + 10) + b'"}'
    reply = client.post(PREDICT, data=body, content_type=content_type)
    assert reply.status_code == 413
    assert "body" in reply.json["errors"]
    assert str(MAX_MESSAGE_BYTES) in reply.json["message"]


def test_wrong_method_is_405_json(client):
    reply = client.get(PREDICT)
    assert reply.status_code == 405
    assert reply.json["status"] == "ERROR"


# --- the response route, the stream and the health check without services -----------------------


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "1234", "x" * 80])
def test_response_and_stream_refuse_a_malformed_id(client, bad_id):
    for route in (RESPONSE, STREAM):
        reply = client.get(route.format(bad_id))
        assert reply.status_code == 400
        assert "id" in reply.json["errors"]


def test_an_answer_in_the_cache_is_served_without_any_service(app, client):
    key = str(uuid.uuid4())
    record = {**GOOD, "UUID": key, "Prediction": 2.0, "Probabilities": [0.1, 0.2, 0.6, 0.1], "ModelVersion": "v1"}
    app.extensions["flightdelay"]["bridge"].cache.put(key, record)
    reply = client.get(RESPONSE.format(key.upper()))  # any spelling of the UUID
    assert reply.status_code == 200
    assert reply.json["status"] == "OK" and reply.json["id"] == key
    assert reply.json["prediction"]["PredictionLabel"] == DELAY_LABELS[2]  # filled when absent

    stream = client.get(STREAM.format(key))
    assert stream.mimetype == "text/event-stream"
    events = parse_sse(stream.get_data(as_text=True))
    assert events[-1][0] == "prediction"
    assert events[-1][1]["prediction"]["ModelVersion"] == "v1"


def test_unknown_id_with_mongo_down_is_503(client):
    reply = client.get(RESPONSE.format(uuid.uuid4()))
    assert reply.status_code == 503
    assert reply.json["service"] == "mongodb"


def test_the_ops_page_says_mongo_is_down(client):
    reply = client.get("/ops")
    assert reply.status_code == 503
    assert "monitoring reports (MongoDB) did not answer" in reply.get_data(as_text=True)


def test_a_stream_says_mongo_is_down_then_times_out(client):
    reply = client.get(STREAM.format(uuid.uuid4()))
    names = [name for name, _ in parse_sse(reply.get_data(as_text=True))]
    assert names[0] == "unavailable"
    assert names[-1] == "timeout"


def test_a_stream_delivers_an_answer_the_moment_it_is_announced(app, client):
    import threading

    links = app.extensions["flightdelay"]["bridge"]
    key = str(uuid.uuid4())
    record = {**GOOD, "UUID": key, "Prediction": 0.0, "Probabilities": [0.7, 0.1, 0.1, 0.1]}

    def subscribed() -> str | None:
        return None if links.subscribers._waiting.get(key) else "no stream subscribed yet"

    def announce():  # what the response listener does with a record from the topic
        with contextlib.suppress(WaitTimeout):  # announced anyway: the test's asserts say what went wrong
            wait_until(subscribed, "the stream to subscribe", timeout=2, interval=0.01)
        links.cache.put(key, record)
        links.subscribers.notify(key, record)

    threading.Thread(target=announce).start()
    events = parse_sse(client.get(STREAM.format(key)).get_data(as_text=True))
    assert events[-1][0] == "prediction"
    assert events[-1][1]["prediction"]["PredictionLabel"] == DELAY_LABELS[0]
    assert len(links.subscribers) == 0  # the stream unsubscribed when it ended


def test_healthz_is_503_naming_what_is_down(client):
    reply = client.get("/healthz")
    assert reply.status_code == 503
    assert reply.json["status"] == "unavailable"
    assert reply.json["kafka"]["ok"] is False and reply.json["mongodb"]["ok"] is False


# --- the page ----------------------------------------------------------------------------------------


def test_the_page_offers_airports_carriers_and_loads_nothing_from_elsewhere(client):
    reply = client.get(PAGE)
    assert reply.status_code == 200
    html = reply.get_data(as_text=True)
    for name in ("Origin", "Dest", "Carrier", "FlightDate", "DepDelay", "FlightNum"):
        assert f'name="{name}"' in html
    assert '<option value="JFK">' in html  # airports from flightdelay.flights.geo
    for not_an_airport in ("ZBP", "NYC", "ZWU"):  # Penn Station, "All Airports", Union Station
        assert f'<option value="{not_an_airport}">' not in html
    assert '<option value="AA">' in html  # carriers (the fallback list without Mongo)
    assert "Early (15+ Minutes Early)" in html  # the seed's labels, for the chart
    assert "http://" not in html and "https://" not in html  # no CDN
    assert "script-src 'self'" in reply.headers["Content-Security-Policy"]


def test_a_carrier_not_in_the_data_is_refused(client):
    reply = client.post(PREDICT, json={**GOOD, "Carrier": "ZZ"})
    assert reply.status_code == 400
    assert reply.json["errors"]["Carrier"].startswith("unknown carrier ZZ: not in the flight history (known: ")


def test_the_model_route_says_when_the_registry_does_not_answer(client):
    reply = client.get("/api/model")
    assert reply.status_code == 503
    assert reply.json["service"] == "mongodb"


def test_the_root_redirects_to_the_page(client):
    reply = client.get("/")
    assert reply.status_code == 302
    assert reply.headers["Location"].endswith(PAGE)


def test_static_files_are_served(client):
    for name in ("app.js", "style.css"):
        reply = client.get(f"/static/{name}")
        assert reply.status_code == 200
        reply.close()


def test_the_app_never_runs_in_debug_mode(app):
    assert app.debug is False


def test_config_overrides_must_be_known_fields():
    with pytest.raises(TypeError, match="no_such_thing"):
        create_app({"no_such_thing": 1})


def parse_sse(text: str) -> list[tuple[str, dict]]:
    """(event, data) pairs of a Server-Sent Events body; comments and retry lines skipped."""
    events = []
    for block in text.split("\n\n"):
        lines = [line for line in block.splitlines() if line and not line.startswith(":")]
        fields = dict(line.split(": ", 1) for line in lines if ": " in line)
        if "event" in fields:
            events.append((fields["event"], json.loads(fields["data"])))
    return events


class EmptyStore:
    """A MongoDB that answers and holds no prediction (the store's look-up, without a server)."""

    def find_prediction(self, key):
        return None


def test_an_id_nobody_will_answer_is_404_unknown_and_one_sent_here_waits(app, client, monkeypatch):
    links = app.extensions["flightdelay"]["bridge"]
    monkeypatch.setattr(links, "store", EmptyStore())
    monkeypatch.setattr(links, "start", lambda: None)
    unknown = client.get(RESPONSE.format(uuid.uuid4()))
    assert unknown.status_code == 404
    assert unknown.json["status"] == "UNKNOWN" and "30 days" in unknown.json["message"]

    sent = str(uuid.uuid4())
    links.sent.put(sent, {"sent": True})  # what send_request records for a request it produced
    waiting = client.get(RESPONSE.format(sent))
    assert waiting.status_code == 200 and waiting.json["status"] == "WAIT"
