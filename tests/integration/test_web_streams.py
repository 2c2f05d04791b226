"""Many result streams at once against the web as `flightdelay up` runs it (gunicorn, real Kafka and
MongoDB): with 200 open, /healthz and the POST route still answer within 1 s; beyond the slots a
stream is refused with 503 + Retry-After (the page then polls); the slots come back once the
clients hang up. Before issue #12, 33 open streams blocked every route until they closed.
bench/web_streams.py prints the same figures at length.
"""

from __future__ import annotations

import contextlib
import socket
import time
import uuid

import pytest
import requests

from flightdelay.waiting import WaitTimeout, wait_until


PREDICT = "/flights/delays/predict/classify_realtime"
STREAM = "/flights/delays/predict/classify_realtime/stream/{}"
FLIGHT = {"Origin": "JFK", "Dest": "LAX", "Carrier": "AA", "FlightDate": "2024-05-01", "DepDelay": 12}



def open_stream(host: str, port: int) -> socket.socket:
    """A stream for an id nobody will answer, so it stays open; its head is read later."""
    sock = socket.create_connection((host, port), timeout=10)
    sock.sendall(f"GET {STREAM.format(uuid.uuid4())} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    return sock


def read_head(sock: socket.socket) -> tuple[int, dict[str, str]]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    lines = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split(" ")[1]), {k.lower(): v for k, v in headers.items()}


def streams_report(base: str) -> dict:
    return requests.get(f"{base}/healthz", timeout=5).json()["streams"]


def timed(method: str, url: str, **kwargs) -> tuple[float, int]:
    started = time.monotonic()
    reply = requests.request(method, url, timeout=5, **kwargs)
    return time.monotonic() - started, reply.status_code


def close_all(socks: list[socket.socket]) -> None:
    for sock in socks:
        sock.close()


def wait_until_open_at_most(base: str, count: int, timeout: float = 10.0) -> int:
    """The streams open once at most ``count`` are, or after ``timeout`` (the caller asserts)."""
    now_open = 0

    def few_enough() -> str | None:
        nonlocal now_open
        now_open = streams_report(base)["open"]
        return f"{now_open} streams open" if now_open > count else None

    with contextlib.suppress(WaitTimeout):
        wait_until(few_enough, f"at most {count} open streams", timeout=timeout, interval=0.2)
    return now_open


@pytest.fixture
def no_open_streams(served):
    """Every slot free: the streams an earlier test dropped (the fuzz suite opens ~70 a second)
    are each given back within about a second of their client leaving, not at once."""
    assert wait_until_open_at_most(served.url, 0, timeout=30.0) == 0, "streams of earlier tests stayed open"


def test_200_open_streams_leave_healthz_and_the_post_route_under_a_second(served, settings, no_open_streams):
    base, host, port = served.url, settings.web_host, settings.web_port
    before = 0
    socks = [open_stream(host, port) for _ in range(200)]
    try:
        assert [read_head(sock)[0] for sock in socks] == [200] * 200
        assert streams_report(base)["open"] >= 200
        timings = []
        for _ in range(10):
            timings.append(timed("GET", f"{base}/healthz"))
            timings.append(timed("POST", f"{base}{PREDICT}", json=FLIGHT))
        assert {status for _, status in timings} == {200}
        assert max(elapsed for elapsed, _ in timings) < 1.0, timings
    finally:
        close_all(socks)
    # each stream notices its client left within about a second and gives its slot back
    assert wait_until_open_at_most(base, before) <= before


def test_a_stream_beyond_the_slots_is_503_with_retry_after(served, settings, no_open_streams):
    base, host, port = served.url, settings.web_host, settings.web_port
    report = streams_report(base)
    asked = report["limit"] - report["open"] + 3
    socks = [open_stream(host, port) for _ in range(asked)]
    try:
        heads = [read_head(sock) for sock in socks]
        statuses = [status for status, _ in heads]
        assert set(statuses) == {200, 503}
        assert statuses.count(503) >= 3 and statuses.count(200) <= report["limit"]
        assert all(headers.get("retry-after", "").isdigit() for status, headers in heads if status == 503)
        elapsed, status = timed("GET", f"{base}/healthz")
        assert status == 200 and elapsed < 1.0
    finally:
        close_all(socks)
    assert wait_until_open_at_most(base, report["open"]) <= report["open"]
