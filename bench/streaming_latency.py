"""Benchmark: end-to-end latency and throughput of the streaming scorer on this machine.

    .venv/bin/python bench/streaming_latency.py [--rates 5,200] [--seconds 30] [--burst 50000]

Needs the platform and a running scorer (`flightdelay run-dag flight_delay_streaming`).
For each rate it produces well-formed requests at that pace for --seconds and measures, per
request, the time from produce to its response arriving on the response topic: p50, p95, p99.
Then it produces a burst of --burst requests as fast as it can and reports how many predictions
per second came out (the sustained throughput). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
import uuid

from confluent_kafka import Consumer, Producer

from flightdelay.contract import new_request
from flightdelay.settings import get_settings

ROUTES = [("JFK", "LAX", "AA"), ("LGA", "ORD", "UA"), ("EWR", "SFO", "UA"), ("JFK", "BOS", "B6"), ("LGA", "ATL", "DL")]


class ResponseWatcher:
    """Follows the response topic from its end and stamps the arrival of each awaited UUID."""

    def __init__(self):
        settings = get_settings()
        self.consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"bench-{uuid.uuid4()}",
                                  "auto.offset.reset": "latest", "enable.auto.commit": False,
                                  "fetch.wait.max.ms": 10})  # fmt: skip
        self.consumer.subscribe([settings.response_topic])
        self.arrived: dict[str, float] = {}
        self._stop = threading.Event()
        self._assigned = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        # partitions assigned: from now on nothing is missed (the consumer is used by its thread only)
        if not self._assigned.wait(60):
            raise SystemExit("the response topic's partitions were never assigned: is Kafka up?")

    def _run(self) -> None:
        while not self._stop.is_set():
            messages = self.consumer.consume(1000, timeout=0.1)
            if not self._assigned.is_set() and self.consumer.assignment():
                # "latest" is resolved lazily: pin the current end offsets before anything is sent
                for tp in self.consumer.assignment():
                    self.consumer.position([tp])
                self._assigned.set()
            for msg in messages:
                if not msg.error() and msg.key():
                    self.arrived.setdefault(msg.key().decode(), time.perf_counter())

    def wait_for(self, uuids, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not all(u in self.arrived for u in uuids):
            time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(5)
        self.consumer.close()


def request(i: int) -> dict:
    origin, dest, carrier = ROUTES[i % len(ROUTES)]
    return new_request({"Origin": origin, "Dest": dest, "Carrier": carrier,
                        "FlightDate": f"2014-01-{1 + i % 28:02d}", "DepDelay": i % 60 - 10})  # fmt: skip


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_rate(producer: Producer, watcher: ResponseWatcher, rate: float, seconds: float) -> None:
    topic = get_settings().request_topic
    sent: dict[str, float] = {}
    interval = 1.0 / rate
    start = time.perf_counter()
    i = 0
    while time.perf_counter() - start < seconds:
        message = request(i)
        payload = json.dumps(message)
        sent[message["UUID"]] = time.perf_counter()
        producer.produce(topic, key=message["UUID"], value=payload)
        producer.poll(0)
        i += 1
        next_at = start + i * interval
        time.sleep(max(0.0, next_at - time.perf_counter()))
    producer.flush(30)
    watcher.wait_for(sent, timeout=120)
    latencies = [(watcher.arrived[u] - t) * 1000 for u, t in sent.items() if u in watcher.arrived]
    lost = len(sent) - len(latencies)
    if not latencies:
        print(f"{rate:>6.0f} req/s: no response at all: is the scorer running?")
        return
    print(f"{rate:>6.0f} req/s: {len(sent)} sent, p50 {percentile(latencies, .5):7.0f} ms  "
          f"p95 {percentile(latencies, .95):7.0f} ms  p99 {percentile(latencies, .99):7.0f} ms  "
          f"mean {statistics.mean(latencies):7.0f} ms  missing {lost}")  # fmt: skip


def run_burst(producer: Producer, watcher: ResponseWatcher, count: int) -> None:
    topic = get_settings().request_topic
    messages = [request(i) for i in range(count)]
    payloads = [(m["UUID"], json.dumps(m)) for m in messages]
    start = time.perf_counter()
    for key, payload in payloads:
        while True:
            try:
                producer.produce(topic, key=key, value=payload)
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush(60)
    produced = time.perf_counter() - start
    watcher.wait_for([k for k, _ in payloads], timeout=600)
    arrivals = sorted(watcher.arrived[k] for k, _ in payloads if k in watcher.arrived)
    if len(arrivals) < 2:
        print(f"burst of {count}: no responses")
        return
    total = arrivals[-1] - start
    print(f"burst of {count}: produced in {produced:.1f}s; {len(arrivals)} predictions out in {total:.1f}s "
          f"= {len(arrivals) / total:,.0f} predictions/s end to end")  # fmt: skip


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="5,200")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--burst", type=int, default=50_000)
    args = parser.parse_args(argv)
    producer = Producer({"bootstrap.servers": get_settings().kafka_bootstrap, "linger.ms": 0})
    watcher = ResponseWatcher()
    watcher.start()
    try:
        for rate in (float(r) for r in args.rates.split(",") if r):
            run_rate(producer, watcher, rate, args.seconds)
        if args.burst:
            run_burst(producer, watcher, args.burst)
    finally:
        watcher.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
