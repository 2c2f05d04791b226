"""The result stream (Server-Sent Events): bounded slots, a hang-up check and the wait itself.

Each open stream holds one gunicorn thread while it waits. ``StreamSlots`` keeps the number of
open streams below the thread count (see ``flightdelay.ops.web``), so threads are always
left for the page, the JSON routes and /healthz; a stream asked for beyond that is answered 503
with Retry-After, and the page polls the response route instead.
"""

from __future__ import annotations

import json
import queue
import socket
import threading
import time
from typing import Any, Callable, Iterator, Mapping

from flightdelay.web.config import WebConfig
from flightdelay.web.kafka_bridge import KafkaBridge, ServiceUnavailable, ok_envelope

# recv flags that look at the socket without taking data or waiting (Linux; 0 elsewhere)
_PEEK = socket.MSG_PEEK | getattr(socket, "MSG_DONTWAIT", 0)


class StreamSlots:
    """At most ``limit`` streams open at once; ``take`` never waits."""

    def __init__(self, limit: int):
        self.limit = limit
        self._open = 0
        self._lock = threading.Lock()

    def take(self) -> Callable[[], None] | None:
        """A release function for one slot, or None when all are taken."""
        with self._lock:
            if self._open >= self.limit:
                return None
            self._open += 1
        released = threading.Event()

        def release() -> None:
            with self._lock:
                if not released.is_set():  # a response may be closed more than once
                    released.set()
                    self._open -= 1

        return release

    @property
    def open(self) -> int:
        return self._open


def hang_up_check(environ: Mapping[str, Any]) -> Callable[[], bool]:
    """A function telling whether the client closed the connection. gunicorn hands the socket
    over (``gunicorn.socket``); without it (test client) the stream just runs to its end."""
    sock = environ.get("gunicorn.socket")
    if sock is None or not hasattr(sock, "recv"):
        return lambda: False

    def hung_up() -> bool:
        try:
            return sock.recv(1, _PEEK) == b""  # readable with nothing to read: end of stream
        except (BlockingIOError, InterruptedError):
            return False  # nothing to read: the client is still there, waiting
        except ValueError:  # a TLS socket takes no flags: cannot tell
            return False
        except OSError:
            return True  # reset or closed

    return hung_up


def sse(event: str, data: Mapping[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def prediction_events(
    key: str, links: KafkaBridge, config: WebConfig, hung_up: Callable[[], bool]
) -> Iterator[str]:
    """One ``prediction`` event the moment the answer is known, or a ``timeout`` event after
    ``stream_timeout_s``; heartbeats meanwhile; ends early when the client hangs up."""
    # subscribe before looking, so an answer arriving in between is not missed
    inbox = links.subscribe(key)
    try:
        yield f"retry: {int(config.poll_interval_s * 1000)}\n\n"
        yield from _wait_for_answer(key, links, config, inbox, hung_up)
    finally:
        links.unsubscribe(key, inbox)


def _wait_for_answer(key, links: KafkaBridge, config: WebConfig, inbox: queue.SimpleQueue, hung_up) -> Iterator[str]:
    now = time.monotonic()
    deadline = now + config.stream_timeout_s
    next_mongo = now
    next_beat = now + config.stream_heartbeat_s
    mongo_down_reported = False
    while True:
        record = links.cache.get(key)
        if record is None and time.monotonic() >= next_mongo and not links.awaiting_here(key):
            next_mongo = time.monotonic() + config.stream_mongo_check_s
            try:
                record = links.store.find_prediction(key)
            except ServiceUnavailable as exc:
                if not mongo_down_reported:  # say it once; Kafka may still answer
                    mongo_down_reported = True
                    yield sse("unavailable", {"id": key, "service": exc.service, "message": str(exc)})
        if record is not None:
            yield sse("prediction", ok_envelope(key, record))
            return
        now = time.monotonic()
        if now >= deadline:
            yield sse("timeout", {"status": "WAIT", "id": key, "waited_s": config.stream_timeout_s})
            return
        if now >= next_beat:
            next_beat = now + config.stream_heartbeat_s
            yield ": waiting\n\n"
        # wake for the next check at the latest: a gone client frees its thread within a second
        wake = min(deadline, next_mongo, next_beat, now + config.stream_hangup_check_s)
        try:
            record = inbox.get(timeout=max(0.01, wake - now))
        except queue.Empty:
            if hung_up():
                return
            continue
        yield sse("prediction", ok_envelope(key, record))
        return
