"""Benchmark: time from the form's POST to the prediction on the page's channel, push vs the seed.

    .venv/bin/python bench/web_latency.py [--rate 5] [--seconds 30] [--answer-timeout 30] [--json]

Needs the platform and the streaming scorer (`flightdelay run-dag flight_delay_streaming` or
`flightdelay up score-stream`). Uses the running web service (`flightdelay up web`); if it is not
running, starts it for the run and stops it afterwards.

Two ways for a page to get its answer, measured side by side in the same run (their requests
alternate, so both meet the same scorer batches), each paced at --rate per second for --seconds:
- push (this front end): POST the form, open the SSE stream, stop the clock at the prediction
  event. The app's one listener has the answer the moment it is on the response topic.
- seed: POST the form, then every second ask the seed's route, which created a new Kafka consumer
  and read the response topic from its beginning looking for the UUID. The scan runs here in the
  bench (the HTTP hop to it is left out) and is generous to the seed: partitions are assigned
  (no group join) and a scan stops at the UUID or at the end offsets.
Prints p50/p90/p99/max per approach, how many were answered, how long after the answer reached the
response topic the page had it (the part the front end adds; the rest is the scorer's), the
response topic's size (the seed's cost grows with it) and the seed's time per scan. If no scorer answers a probe request
it says so and exits with code 2. Traffic goes only to the local platform.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests
from confluent_kafka import Consumer, TopicPartition

from flightdelay import kafka_auth
from flightdelay.embedded.web import FlaskApp
from flightdelay.ops.scorer import ScoreStream
from flightdelay.settings import get_settings

PREDICT = "/flights/delays/predict/classify_realtime"
STREAM = "/flights/delays/predict/classify_realtime/stream/{}"
ROUTES = [("JFK", "LAX", "AA"), ("LGA", "ORD", "UA"), ("EWR", "SFO", "UA"), ("JFK", "BOS", "B6"), ("LGA", "ATL", "DL")]
SEED_POLL_INTERVAL_S = 1.0


def form(i: int) -> dict:
    origin, dest, carrier = ROUTES[i % len(ROUTES)]
    return {"Origin": origin, "Dest": dest, "Carrier": carrier,
            "FlightDate": f"2014-01-{1 + i % 28:02d}", "DepDelay": str(i % 60 - 10)}  # fmt: skip


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Outcome:
    latencies_ms: list[float] = field(default_factory=list)
    unanswered: int = 0
    failed: list[str] = field(default_factory=list)
    scans_ms: list[float] = field(default_factory=list)
    after_topic_ms: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class TopicWatcher:
    """Stamps when each response reaches the response topic, to split each latency into the
    scorer's part and the part the page's channel adds after the answer is on the topic."""

    def __init__(self) -> None:
        settings = get_settings()
        topic = settings.response_topic
        self.consumer = Consumer({**kafka_auth.client_config(settings), "group.id": f"bench-{uuid.uuid4()}",
                                  "enable.auto.commit": False, "fetch.wait.max.ms": 10})  # fmt: skip
        partitions = self.consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = [TopicPartition(topic, p, self.consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1])
                for p in partitions]  # fmt: skip
        self.consumer.assign(ends)
        self.arrived: dict[str, float] = {}
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            msg = self.consumer.poll(0.1)
            if msg is not None and not msg.error() and msg.key():
                self.arrived.setdefault(msg.key().decode(), time.perf_counter())

    def after_topic_ms(self, request_id: str, seen_at: float) -> float | None:
        arrived = self.arrived.get(request_id)
        return None if arrived is None else (seen_at - arrived) * 1000

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(5)
        self.consumer.close()


WATCHER: TopicWatcher | None = None


def record(outcome: "Outcome", request_id: str, started: float, answered: bool) -> None:
    seen_at = time.perf_counter()
    with outcome.lock:
        if not answered:
            outcome.unanswered += 1
            return
        outcome.latencies_ms.append((seen_at - started) * 1000)
        extra = WATCHER.after_topic_ms(request_id, seen_at) if WATCHER else None
        if extra is not None:
            outcome.after_topic_ms.append(extra)


def post_form(base: str, i: int) -> str:
    reply = requests.post(base + PREDICT, data=form(i), timeout=15)
    if reply.status_code != 200:
        raise RuntimeError(f"POST answered {reply.status_code}: {reply.text[:200]}")
    return reply.json()["id"]


# --- push: the SSE stream ------------------------------------------------------------------------


def wait_on_stream(base: str, request_id: str, timeout: float) -> bool:
    """Read the stream until the prediction event; False on timeout or a stream that ends."""
    deadline = time.monotonic() + timeout
    with requests.get(base + STREAM.format(request_id), stream=True, timeout=(5, timeout)) as stream:
        event = None
        for line in stream.iter_lines(decode_unicode=True):
            if line.startswith("event: "):
                event = line[len("event: "):]
            elif line.startswith("data: ") and event == "prediction":
                return True
            elif line.startswith("data: ") and event == "timeout":
                return False
            if time.monotonic() > deadline:
                return False
    return False


def push_page(base: str, i: int, timeout: float, outcome: Outcome) -> None:
    started = time.perf_counter()
    try:
        request_id = post_form(base, i)
        answered = wait_on_stream(base, request_id, timeout)
    except Exception as exc:  # a failed request is counted and shown, not fatal
        with outcome.lock:
            outcome.failed.append(str(exc))
        return
    record(outcome, request_id, started, answered)


# --- seed: 1 s polling of a route that scans the whole topic ----------------------------------------


def seed_route_scan(bootstrap: str, topic: str, request_id: str, outcome: Outcome) -> bool:
    """What the seed's response route did per poll: a new consumer reading the topic from the start."""
    started = time.perf_counter()
    consumer = Consumer({**kafka_auth.client_config(get_settings()), "bootstrap.servers": bootstrap, "group.id": f"seed-poll-{uuid.uuid4()}",
                         "enable.auto.commit": False, "enable.partition.eof": True})  # fmt: skip
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {}
        for p in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if high > low:
                ends[p] = high
        consumer.assign([TopicPartition(topic, p, 0) for p in ends])
        wanted = request_id.encode()
        pending = set(ends)
        while pending:
            msg = consumer.poll(5.0)
            if msg is None:
                break
            if msg.error():
                pending.discard(msg.partition())  # end of a partition
                continue
            if msg.key() == wanted:
                return True
            if msg.offset() + 1 >= ends[msg.partition()]:
                pending.discard(msg.partition())
        return False
    finally:
        consumer.close()
        with outcome.lock:
            outcome.scans_ms.append((time.perf_counter() - started) * 1000)


def seed_page(base: str, i: int, timeout: float, outcome: Outcome) -> None:
    settings = get_settings()
    started = time.perf_counter()
    try:
        request_id = post_form(base, i)
        deadline = time.monotonic() + timeout
        answered = False
        while time.monotonic() < deadline:
            time.sleep(SEED_POLL_INTERVAL_S)  # the seed's page polled once a second
            if seed_route_scan(settings.kafka_bootstrap, settings.response_topic, request_id, outcome):
                answered = True
                break
    except Exception as exc:
        with outcome.lock:
            outcome.failed.append(str(exc))
        return
    record(outcome, request_id, started, answered)


# --- the run ---------------------------------------------------------------------------------------


def paced(base: str, rate: float, seconds: float, timeout: float) -> tuple[Outcome, Outcome, int]:
    """Both approaches side by side, each at ``rate``: their requests alternate, half a period
    apart, so both meet the same scorer batches and the same load."""
    push, seed = Outcome(), Outcome()
    count = int(rate * seconds)
    workers = min(256, int(2 * rate * (timeout + 2)) + 4)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        start = time.perf_counter()
        for n in range(count):
            for page, outcome, offset in ((push_page, push, 0.0), (seed_page, seed, 0.5)):
                time.sleep(max(0.0, start + (n + offset) / rate - time.perf_counter()))
                pool.submit(page, base, 2 * n + int(offset * 2) + 1, timeout, outcome)
    return push, seed, count


def response_topic_size() -> int:
    settings = get_settings()
    topic = settings.response_topic
    consumer = Consumer({**kafka_auth.client_config(settings), "group.id": f"bench-{uuid.uuid4()}"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        total = 0
        for p in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            total += high - low
        return total
    finally:
        consumer.close()


def ensure_web(log) -> tuple[str, FlaskApp | None]:
    """The running web service's URL; starts it for this run if it is not running."""
    service = FlaskApp(get_settings())
    if service.pid() is None:
        log("web service not running: starting it for this run")
        service.start(log=log)
        return service.url, service
    return service.url, None


def summary(name: str, sent: int, outcome: Outcome) -> dict:
    row = {"approach": name, "sent": sent, "answered": len(outcome.latencies_ms),
           "unanswered": outcome.unanswered, "failed": len(outcome.failed)}  # fmt: skip
    if outcome.latencies_ms:
        values = outcome.latencies_ms
        row.update(p50_ms=percentile(values, 0.5), p90_ms=percentile(values, 0.9),
                   p99_ms=percentile(values, 0.99), max_ms=max(values))  # fmt: skip
    if outcome.after_topic_ms:
        extra = outcome.after_topic_ms
        row.update(after_topic_p50_ms=percentile(extra, 0.5), after_topic_p99_ms=percentile(extra, 0.99))
    if outcome.scans_ms:
        row.update(scans=len(outcome.scans_ms), scan_p50_ms=percentile(outcome.scans_ms, 0.5),
                   scan_p99_ms=percentile(outcome.scans_ms, 0.99))  # fmt: skip
    return row


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=5.0, help="requests per second (default 5)")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each approach's run")
    parser.add_argument("--answer-timeout", type=float, default=30.0, help="a page gives up after this")
    parser.add_argument("--probe-timeout", type=float, default=90.0, help="wait for the scorer's first answer")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args(argv)
    log = (lambda line: print(line, file=sys.stderr)) if args.json else print

    base, started_here = ensure_web(log)
    try:
        probe_timeout = args.probe_timeout
        if ScoreStream(get_settings()).pid() is None:  # not ours to start: a short look, then say so
            probe_timeout = min(probe_timeout, 15.0)
            log("score-stream is not running here; probing briefly in case it runs elsewhere")
        log(f"probe: one request through {base}, waiting up to {probe_timeout:.0f}s for the scorer")
        probe = Outcome()
        push_page(base, 0, probe_timeout, probe)
        if not probe.latencies_ms:
            scorer = ScoreStream(get_settings()).status()
            reason = probe.failed[0] if probe.failed else f"no answer within {probe_timeout:.0f}s"
            print(f"NO SCORER ANSWERED: {reason}. score-stream is {scorer.state}"
                  f"{' (' + scorer.detail + ')' if scorer.detail else ''}. Start it with "
                  "`flightdelay run-dag flight_delay_streaming` (or `flightdelay up score-stream`) "
                  "and run this again. No figures measured.")  # fmt: skip
            return 2
        log(f"probe answered in {probe.latencies_ms[0]:.0f} ms")

        topic_records = response_topic_size()
        global WATCHER
        WATCHER = TopicWatcher()
        log(f"push and seed side by side, {args.rate:g} req/s each, for {args.seconds:g}s")
        push, seed, sent = paced(base, args.rate, args.seconds, args.answer_timeout)
        rows = [summary("push (SSE, one listener + cache)", sent, push),
                summary("seed (1 s polling, topic scan)", sent, seed)]  # fmt: skip
    finally:
        if WATCHER is not None:
            WATCHER.stop()
        if started_here is not None:
            started_here.stop(log=log)

    report = {"rate_per_s": args.rate, "seconds": args.seconds, "response_topic_records_at_start": topic_records,
              "results": rows}  # fmt: skip
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"\nPOST of the form -> prediction on the page's channel, {args.rate:g} req/s each, "
          f"side by side, {args.seconds:g}s")  # fmt: skip
    print(f"response topic: {topic_records:,} records at the start (each seed poll scans them all)")
    print(f"{'approach':<34} {'sent':>5} {'answered':>8} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for row in rows:
        keys = ("p50_ms", "p90_ms", "p99_ms", "max_ms")
        figures = "".join(f" {row[k]:8.0f}" if k in row else f" {'-':>8}" for k in keys)
        print(f"{row['approach']:<34} {row['sent']:>5} {row['answered']:>8}{figures}")
    for row, outcome in zip(rows, (push, seed), strict=True):
        if row["unanswered"] or row["failed"]:
            print(f"  {row['approach']}: {row['unanswered']} unanswered, {row['failed']} failed"
                  f"{': ' + outcome.failed[0][:160] if outcome.failed else ''}")  # fmt: skip
    print("after the answer reached the response topic, the page had it:")
    for row in rows:
        if "after_topic_p50_ms" in row:
            print(f"  {row['approach']:<34} p50 {row['after_topic_p50_ms']:6.0f} ms   "
                  f"p99 {row['after_topic_p99_ms']:6.0f} ms later")  # fmt: skip
    if "scans" in rows[1]:
        print(f"seed scans: {rows[1]['scans']} topic scans, p50 {rows[1]['scan_p50_ms']:.0f} ms, "
              f"p99 {rows[1]['scan_p99_ms']:.0f} ms each")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
