"""Hostile input for every route, sent over HTTP to the web as `flightdelay up` runs it (gunicorn,
real Kafka and MongoDB behind it): 1,000 generated requests per route (the strategies of
tests/unit/test_web_fuzz.py), none answered with a 5xx, none slower than 2 s, every refusal the
app makes is JSON with a message. Valid bodies among them are real requests: they go to the
request topic and are scored like any other.
"""

from __future__ import annotations

import time

import pytest
import requests
from hypothesis import given

from tests.unit.test_web_fuzz import FUZZ, ROUTE_CALLS, SLOWEST_S, Call, check_refusal



@pytest.fixture(scope="module")
def session():
    with requests.Session() as session:
        yield session


def send(session: requests.Session, base: str, call: Call):
    # a new connection each time: after refusing a large body unread, gunicorn drains at most
    # 64 KiB of it and then closes the connection, which a reused one would see as a failure
    headers = {"Connection": "close"}
    if call.content_type is not None:
        headers["Content-Type"] = call.content_type
    started = time.monotonic()
    reply = session.request(
        call.method, base + call.path, data=call.body, headers=headers, stream=True, timeout=10, allow_redirects=False
    )
    try:
        # a stream's wait is not part of the answer: its status and headers are
        streaming = reply.headers.get("Content-Type", "").startswith("text/event-stream")
        body = b"" if streaming else reply.content
    finally:
        reply.close()  # a stream's connection is dropped: the web sees the hang-up and frees its slot
    return reply, body, time.monotonic() - started


@pytest.mark.parametrize("route", list(ROUTE_CALLS))
def test_no_hostile_request_is_a_5xx_or_slow(served, session, route):
    base = served.url

    @FUZZ
    @given(call=ROUTE_CALLS[route])
    def hostile(call: Call) -> None:
        reply, body, elapsed = send(session, base, call)
        assert elapsed < SLOWEST_S, f"{elapsed:.2f} s"
        assert reply.status_code < 500, body[:300]
        if "Content-Security-Policy" in reply.headers:  # the app's answer (gunicorn's own are plain)
            check_refusal(call, reply.status_code, reply.headers.get("Content-Type"), body)

    hostile()
