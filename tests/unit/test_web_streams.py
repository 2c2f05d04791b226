"""Result streams are bounded so the other routes always find a gunicorn thread: slots, the 503
when they are taken, the hang-up check that frees a slot when the client leaves, and the thread
count that leaves room for the other routes. No service running (tests/integration/
test_web_streams.py opens 200 real streams against the running web)."""

from __future__ import annotations

import socket
import time
import uuid

import pytest

from flightdelay.embedded.web import FlaskApp
from flightdelay.ops.web import THREADS, THREADS_FOR_OTHER_ROUTES
from flightdelay.settings import Settings
from flightdelay.web import close_app, create_app
from flightdelay.web.config import MAX_STREAMS, WebConfig
from flightdelay.web.streams import StreamSlots, hang_up_check, prediction_events
from tests.unit.test_web_fuzz import MongoDown
from tests.unit.test_web_routes import closed_port

STREAM = "/flights/delays/predict/classify_realtime/stream/{}"


@pytest.fixture
def app(tmp_path):
    port = closed_port()
    config = WebConfig.from_settings(
        kafka_bootstrap=f"127.0.0.1:{port}",
        mongo_uri=f"mongodb://127.0.0.1:{port}/",
        produce_timeout_s=0.2,  # the listener gives up on the closed port quickly at teardown
        probe_timeout_s=0.1,
        max_streams=2,
        stream_retry_after_s=7,
        carriers_from_history=False,
        cache_dir=tmp_path,
        testing=True,
    )
    app = create_app(config)
    app.extensions["flightdelay"]["bridge"].store = MongoDown(config)
    yield app
    close_app(app)


def test_slots_are_taken_up_to_the_limit_and_given_back_once():
    slots = StreamSlots(2)
    first, second = slots.take(), slots.take()
    assert first and second and slots.open == 2
    assert slots.take() is None
    first()
    first()  # a response closed twice gives its slot back once
    assert slots.open == 1
    assert slots.take() is not None and slots.open == 2


def test_a_stream_beyond_the_slots_is_503_with_retry_after_and_a_closed_one_frees_its_slot(app):
    client = app.test_client()
    held = [client.get(STREAM.format(uuid.uuid4()), buffered=False) for _ in range(2)]
    assert [r.status_code for r in held] == [200, 200]
    assert client.get("/healthz").json["streams"] == {"open": 2, "limit": 2}

    refused = client.get(STREAM.format(uuid.uuid4()))
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "7"
    assert refused.json["status"] == "UNAVAILABLE" and "poll" in refused.json["message"]

    held[0].close()  # the server closes the response when the client has gone
    again = client.get(STREAM.format(uuid.uuid4()), buffered=False)
    assert again.status_code == 200
    for reply in (again, held[1]):
        reply.close()
    assert client.get("/healthz").json["streams"]["open"] == 0


def test_a_malformed_id_takes_no_slot(app):
    client = app.test_client()
    for _ in range(5):
        assert client.get(STREAM.format("not-a-uuid")).status_code == 400
    assert client.get("/healthz").json["streams"]["open"] == 0


def test_the_hang_up_check_sees_a_closed_client_and_only_that():
    server, peer = socket.socketpair()
    try:
        hung_up = hang_up_check({"gunicorn.socket": server})
        assert not hung_up()  # connected and quiet
        peer.sendall(b"GET / HTTP/1.1\r\n")  # a pipelined request is not a hang-up
        assert not hung_up()
        assert server.recv(100)  # (the check only peeks: the bytes are still there)
        peer.close()
        assert hung_up()
    finally:
        server.close()
    assert hang_up_check({})() is False  # no socket (the test client): never


def test_a_stream_ends_soon_after_its_client_hangs_up(app):
    links = app.extensions["flightdelay"]["bridge"]
    config = app.extensions["flightdelay"]["config"].with_overrides(
        {"stream_hangup_check_s": 0.05, "stream_timeout_s": 30.0}
    )
    calls = []

    def hung_up() -> bool:
        calls.append(time.monotonic())
        return len(calls) >= 3

    started = time.monotonic()
    events = list(prediction_events(str(uuid.uuid4()), links, config, hung_up))
    assert time.monotonic() - started < 2.0  # not the 30 s stream timeout
    assert not any(e.startswith("event: timeout") for e in events)
    assert len(links.subscribers) == 0


def test_gunicorn_keeps_threads_no_stream_can_take():
    assert MAX_STREAMS >= 200  # issue #12: 200 open streams at once
    assert THREADS == MAX_STREAMS + THREADS_FOR_OTHER_ROUTES
    assert THREADS_FOR_OTHER_ROUTES >= 16
    assert WebConfig.from_settings().max_streams == MAX_STREAMS


def test_the_served_command_uses_those_threads(tmp_path, monkeypatch):
    monkeypatch.setenv("FLIGHTDELAY_VAR_DIR", str(tmp_path))
    command = FlaskApp(Settings()).command()
    assert command[command.index("--threads") + 1] == str(THREADS)
    assert command[command.index("--worker-class") + 1] == "gthread"
