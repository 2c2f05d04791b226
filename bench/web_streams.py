"""Benchmark: many open result streams at once, while /healthz and the POST route are timed.

    .venv/bin/python bench/web_streams.py [--streams 200] [--seconds 20] [--probe-interval 0.25]

Needs the running web service (`flightdelay up web`, address from the settings: WEB_HOST,
WEB_PORT). Opens --streams Server-Sent Events streams at once, for ids nobody will answer (so
they stay open, each asking MongoDB every few seconds: the web's worst case), waits until each
has its response headers, then for --seconds times GET /healthz and POST
/flights/delays/predict/classify_realtime (a valid flight: a real request into Kafka) one after
the other, each on a new connection. Prints how many streams were served (200) or refused
(503 + Retry-After), p50/p99/max of each probed route, the streams still open at the end, and how
long the web took to free the slots after the streams were closed. Exits 1 if a probe took more
than --limit seconds (1 s) or failed. Traffic goes only to the local web.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import sys
import time
import uuid
from dataclasses import dataclass, field

from flightdelay.settings import get_settings

PREDICT = "/flights/delays/predict/classify_realtime"
STREAM = "/flights/delays/predict/classify_realtime/stream/{}"
FLIGHT = {"Origin": "JFK", "Dest": "LAX", "Carrier": "AA", "FlightDate": "2024-05-01", "DepDelay": 12}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Probe:
    name: str
    latencies_ms: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if not self.latencies_ms:
            return f"{self.name:8} no answer ({len(self.failures)} failures: {self.failures[:3]})"
        v = self.latencies_ms
        return (
            f"{self.name:8} n={len(v):4}  p50 {percentile(v, 0.5):7.1f} ms  p99 {percentile(v, 0.99):7.1f} ms  "
            f"max {max(v):7.1f} ms  failures {len(self.failures)}"
            + (f" (first: {self.failures[0]})" if self.failures else "")
        )


# --- the streams (asyncio: a socket each, no thread each) ------------------------------------------


@dataclass
class Streams:
    statuses: dict[int, int] = field(default_factory=dict)
    open_ms: list[float] = field(default_factory=list)
    retry_after: set[str] = field(default_factory=set)
    ended_early: int = 0
    no_headers: int = 0
    writers: list[asyncio.StreamWriter] = field(default_factory=list)


async def open_stream(host: str, port: int, streams: Streams, timeout: float) -> None:
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection(host, port)
    path = STREAM.format(uuid.uuid4())
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n\r\n".encode())
    await writer.drain()
    try:
        head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)).decode("latin-1")
    except asyncio.TimeoutError:
        streams.no_headers += 1
        streams.writers.append(writer)  # still queued at the server: it counts as open
        return
    status = int(head.split(" ", 2)[1])
    streams.statuses[status] = streams.statuses.get(status, 0) + 1
    if status != 200:
        for line in head.split("\r\n"):
            if line.lower().startswith("retry-after:"):
                streams.retry_after.add(line.split(":", 1)[1].strip())
        writer.close()
        return
    streams.open_ms.append((time.perf_counter() - started) * 1000)
    streams.writers.append(writer)
    asyncio.get_running_loop().create_task(drain(reader, streams))


async def drain(reader: asyncio.StreamReader, streams: Streams) -> None:
    """Read heartbeats until the stream ends (which, during the run, it should not)."""
    try:
        while await reader.read(4096):
            pass
    except (ConnectionError, asyncio.CancelledError):
        return
    streams.ended_early += 1


# --- the probes (plain blocking HTTP in a thread, timed from connect to the last byte) -----------


def timed_request(
    host: str, port: int, method: str, path: str, body: bytes | None, timeout: float
) -> tuple[float, int]:
    started = time.perf_counter()
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        connection.request(method, path, body=body, headers=headers)
        reply = connection.getresponse()
        reply.read()
        return (time.perf_counter() - started) * 1000, reply.status
    finally:
        connection.close()


def probe_once(host: str, port: int, probe: Probe, method: str, path: str, body: bytes | None, timeout: float) -> None:
    try:
        elapsed_ms, status = timed_request(host, port, method, path, body, timeout)
    except OSError as exc:
        probe.failures.append(f"{type(exc).__name__}: {exc}")
        return
    probe.latencies_ms.append(elapsed_ms)
    if status != 200:
        probe.failures.append(f"HTTP {status}")


async def run_probes(host: str, port: int, seconds: float, interval: float, timeout: float) -> list[Probe]:
    health, post = Probe("/healthz"), Probe("POST")
    body = json.dumps(FLIGHT).encode()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await asyncio.to_thread(probe_once, host, port, health, "GET", "/healthz", None, timeout)
        await asyncio.to_thread(probe_once, host, port, post, "POST", PREDICT, body, timeout)
        await asyncio.sleep(interval)
    return [health, post]


def open_streams_reported(host: str, port: int) -> int | None:
    connection = http.client.HTTPConnection(host, port, timeout=5)
    try:
        connection.request("GET", "/healthz")
        return json.loads(connection.getresponse().read()).get("streams", {}).get("open")
    except (OSError, ValueError):
        return None
    finally:
        connection.close()


async def seconds_until_freed(host: str, port: int, baseline: int, limit_s: float = 30.0) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        now_open = await asyncio.to_thread(open_streams_reported, host, port)
        if now_open is None:
            return None  # a web without the streams report
        if now_open <= baseline:
            return time.monotonic() - started
        await asyncio.sleep(0.2)
    return None


async def main_async(args: argparse.Namespace) -> int:
    host, port = args.host, args.port
    baseline = await asyncio.to_thread(open_streams_reported, host, port) or 0
    streams = Streams()
    started = time.perf_counter()
    opening = (open_stream(host, port, streams, args.open_timeout) for _ in range(args.streams))
    results = await asyncio.gather(*opening, return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    print(f"web {host}:{port}; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(
        f"streams asked {args.streams}: " + ", ".join(f"HTTP {k}: {v}" for k, v in sorted(streams.statuses.items()))
        + (f", no headers within {args.open_timeout:g} s: {streams.no_headers}" if streams.no_headers else "")
        + (f", failed to connect: {len(errors)} ({errors[0]!r})" if errors else "")
        + (f"; Retry-After {sorted(streams.retry_after)}" if streams.retry_after else "")
    )
    if streams.open_ms:
        print(
            f"all answered in {time.perf_counter() - started:.2f} s; headers after p50 "
            f"{percentile(streams.open_ms, 0.5):.1f} ms, max {max(streams.open_ms):.1f} ms"
        )
    probes = await run_probes(host, port, args.seconds, args.probe_interval, args.timeout)
    print(f"while {len(streams.writers)} streams were open, for {args.seconds:g} s:")
    for probe in probes:
        print("  " + probe.summary())
    print(f"streams that ended during the run: {streams.ended_early}")
    for writer in streams.writers:
        writer.close()
    freed = await seconds_until_freed(host, port, baseline)
    print("slots freed after the streams closed: " + (f"{freed:.1f} s" if freed is not None else "not seen"))
    slow = [p for p in probes if not p.latencies_ms or max(p.latencies_ms) > args.limit * 1000 or p.failures]
    return 1 if slow or errors or streams.no_headers else 0


def main() -> int:
    settings = get_settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the probes run")
    parser.add_argument("--probe-interval", type=float, default=0.25, help="pause between probe pairs")
    parser.add_argument("--timeout", type=float, default=10.0, help="a probe gives up after this long")
    parser.add_argument("--open-timeout", type=float, default=10.0, help="a stream's headers, at the latest")
    parser.add_argument("--limit", type=float, default=1.0, help="slowest acceptable probe, seconds")
    parser.add_argument("--host", default=settings.web_host)
    parser.add_argument("--port", type=int, default=settings.web_port)
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
