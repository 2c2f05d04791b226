"""Benchmark: end-to-end latency and throughput of the streaming scorer on this machine.

    .venv/bin/python bench/streaming_latency.py [--rates 5,200] [--seconds 30] [--burst 50000]
                                                [--sustain 2000,4000 --sustain-seconds 60]
                                                [--driver-max-records 0,500,20000 --cores 1,2]

Needs the platform and a running scorer (`flightdelay run-dag flight_delay_streaming`).
With --driver-max-records or --cores, the scorer is restarted once per small-batch limit and
executor core count (SCORER_DRIVER_MAX_RECORDS and SCORER_CORES: 0 sends every micro-batch to the
executors' tasks, 500 scores batches of at most 500 requests on the driver and bigger ones on the
executors, 20000 every batch on the driver), the same runs repeated in each, and a table prints
the figures side by side; the scorer is restarted as the platform's settings say at the end.
For each rate it produces well-formed requests at that pace for --seconds and measures, per
request, the time from produce to its response arriving on the response topic: p50, p95, p99.
A burst of --burst requests produced at once measures how fast the scorer drains a backlog
(predictions/s between the first and the last response). Each --sustain rate is held for
--sustain-seconds (sent by a batching producer: linger 5 ms, lz4, like the scorer's): the rate is
sustained when the median latency of the last third of the requests is at most a second and a
quarter more than that of the first third (no growing lag); the median of each sixth of the run
shows the trend. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import threading
import time
import uuid

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from flightdelay import kafka_auth
from flightdelay.contract import new_request
from flightdelay.settings import get_settings
from flightdelay.waiting import WaitTimeout, wait_until

ROUTES = [("JFK", "LAX", "AA"), ("LGA", "ORD", "UA"), ("EWR", "SFO", "UA"), ("JFK", "BOS", "B6"), ("LGA", "ATL", "DL")]


class ResponseWatcher:
    """Follows the response topic from its end and stamps the arrival of each awaited UUID."""

    def __init__(self):
        settings = get_settings()
        self.consumer = Consumer({**kafka_auth.client_config(settings), "group.id": f"bench-{uuid.uuid4()}",
                                  "enable.auto.commit": False, "fetch.wait.max.ms": 10})  # fmt: skip
        self.topic = settings.response_topic
        self.arrived: dict[str, float] = {}
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        """From the topic's end offsets as they are now, read before anything is sent: a
        subscription's "latest" is resolved lazily, and an answer written before that missed."""
        try:
            partitions = self.consumer.list_topics(self.topic, timeout=30).topics[self.topic].partitions
            ends = [TopicPartition(self.topic, p, self.consumer.get_watermark_offsets(
                TopicPartition(self.topic, p), timeout=30)[1]) for p in partitions]  # fmt: skip
        except KafkaException as exc:
            raise SystemExit(f"cannot read the response topic's end offsets: is Kafka up? ({exc})") from exc
        self.consumer.assign(ends)  # the consumer is used by its thread only from now on
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            messages = self.consumer.consume(1000, timeout=0.1)
            for msg in messages:
                if not msg.error() and msg.key():
                    self.arrived.setdefault(msg.key().decode(), time.perf_counter())

    def wait_for(self, uuids, timeout: float) -> None:
        """Until every one of ``uuids`` arrived, or ``timeout``: the caller counts the missing."""

        def all_arrived() -> str | None:
            return None if all(u in self.arrived for u in uuids) else "responses still missing"

        with contextlib.suppress(WaitTimeout):
            wait_until(all_arrived, "every response", timeout=timeout, interval=0.05)

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


def produce_at(producer: Producer, rate: float, seconds: float) -> dict[str, float]:
    """Produce requests at `rate` per second for `seconds`; returns UUID -> time sent. The
    payloads are made beforehand and sent in small groups each tick, so that the generator
    (sharing this machine's two cores with the scorer) costs little more than the sends."""
    topic = get_settings().request_topic
    tick = max(1.0 / rate, 0.005)
    per_tick = max(1, round(rate * tick))
    payloads = [(m["UUID"], json.dumps(m)) for m in (request(i) for i in range(int(rate * seconds)))]
    sent: dict[str, float] = {}
    start = time.perf_counter()
    for i, (key, payload) in enumerate(payloads):
        if i % per_tick == 0:
            producer.poll(0)
            time.sleep(max(0.0, start + (i / per_tick) * tick - time.perf_counter()))
        sent[key] = time.perf_counter()
        send(producer, topic, key, payload)
    producer.flush(30)
    return sent


def send(producer: Producer, topic: str, key: str, payload: str) -> None:
    """Produce one record, letting the local queue drain when it is full."""
    while True:
        try:
            producer.produce(topic, key=key, value=payload)
            return
        except BufferError:
            producer.poll(0.01)


def run_rate(producer: Producer, watcher: ResponseWatcher, rate: float, seconds: float) -> str:
    sent = produce_at(producer, rate, seconds)
    watcher.wait_for(sent, timeout=120)
    latencies = [(watcher.arrived[u] - t) * 1000 for u, t in sent.items() if u in watcher.arrived]
    lost = len(sent) - len(latencies)
    if not latencies:
        print(f"{rate:>6.0f} req/s: no response at all: is the scorer running?")
        return "no response"
    print(f"{rate:>6.0f} req/s: {len(sent)} sent, p50 {percentile(latencies, .5):7.0f} ms  "
          f"p95 {percentile(latencies, .95):7.0f} ms  p99 {percentile(latencies, .99):7.0f} ms  "
          f"mean {statistics.mean(latencies):7.0f} ms  missing {lost}")  # fmt: skip
    return f"p50 {percentile(latencies, .5):,.0f} / p99 {percentile(latencies, .99):,.0f} ms" + (
        f", {lost} missing" if lost else "")  # fmt: skip


def run_burst(producer: Producer, watcher: ResponseWatcher, count: int) -> str:
    topic = get_settings().request_topic
    messages = [request(i) for i in range(count)]
    payloads = [(m["UUID"], json.dumps(m)) for m in messages]
    start = time.perf_counter()
    for key, payload in payloads:
        send(producer, topic, key, payload)
    producer.flush(60)
    produced = time.perf_counter() - start
    watcher.wait_for([k for k, _ in payloads], timeout=600)
    arrivals = sorted(watcher.arrived[k] for k, _ in payloads if k in watcher.arrived)
    if len(arrivals) < 2:
        print(f"burst of {count}: no responses")
        return "no responses"
    total = arrivals[-1] - start
    draining = arrivals[-1] - arrivals[0]
    print(f"burst of {count}: produced in {produced:.1f}s; {len(arrivals)} predictions out in {total:.1f}s "
          f"= {len(arrivals) / total:,.0f} predictions/s end to end; backlog drained at "
          f"{(len(arrivals) - 1) / draining:,.0f} predictions/s (first to last response)")  # fmt: skip
    return f"{(len(arrivals) - 1) / draining:,.0f}/s drained"


def run_sustained(producer: Producer, watcher: ResponseWatcher, rate: float, seconds: float) -> str:
    sent = produce_at(producer, rate, seconds)
    produced_for = max(sent.values()) - min(sent.values())
    watcher.wait_for(sent, timeout=300)
    ordered = sorted(sent.items(), key=lambda item: item[1])
    latencies = [(watcher.arrived[u] - t) * 1000 for u, t in ordered if u in watcher.arrived]
    if len(latencies) < 3:
        print(f"{rate:>6.0f} req/s sustained: no responses")
        return "no responses"
    third = len(latencies) // 3
    first, last = statistics.median(latencies[:third]), statistics.median(latencies[-third:])
    # a lag that grows by more than a second and a quarter of where it started is not kept up with
    verdict = "sustained" if last - first <= 1000 + first / 4 else "NOT sustained (lag grows)"
    print(f"{rate:>6.0f} req/s for {seconds:.0f}s: {len(sent)} sent at {len(sent) / produced_for:,.0f}/s, "
          f"{len(latencies)} answered; median latency first third {first:,.0f} ms, last third {last:,.0f} ms: "
          f"{verdict}")  # fmt: skip
    step = max(1, len(latencies) // 6)
    trend = [statistics.median(latencies[i : i + step]) for i in range(0, step * 6, step)]
    print(f"        median latency by sixth of the run: {' -> '.join(f'{m:,.0f}' for m in trend)} ms")
    missing = len(sent) - len(latencies)
    return f"{' -> '.join(f'{m / 1000:,.1f}' for m in trend)} s" + (f", {missing} missing" if missing else "")


def run_all(args: argparse.Namespace, producer: Producer, watcher: ResponseWatcher) -> dict[str, str]:
    """Every run the arguments ask for, against the scorer as it runs now: label -> figures."""
    results: dict[str, str] = {}
    for rate in (float(r) for r in args.rates.split(",") if r):
        results[f"{rate:,.0f} req/s latency"] = run_rate(producer, watcher, rate, args.seconds)
    if args.burst:
        results[f"burst of {args.burst:,}"] = run_burst(producer, watcher, args.burst)
    sustain_rates = [float(r) for r in args.sustain.split(",") if r]
    if sustain_rates:
        # thousands of requests/s come from clients that batch (as the scorer's own producer
        # does): unbatched sends cost the broker a request each, on the machine being measured
        batching = Producer({**kafka_auth.client_config(get_settings()), "linger.ms": 5, "compression.type": "lz4"})
        for rate in sustain_rates:
            label = f"{rate:,.0f} req/s for {args.sustain_seconds:.0f} s: median latency by sixth"
            results[label] = run_sustained(batching, watcher, rate, args.sustain_seconds)
    return results


def restart_scorer(cores: int | None = None, driver_max: int | None = None) -> None:
    """The scorer restarted with these settings (None: the platform's own), warm when this returns."""
    from dataclasses import replace

    from flightdelay.ops.scorer import ScoreStream

    settings = get_settings()
    limit = settings.scorer_driver_max_records if driver_max is None else driver_max
    changed = replace(settings, scorer_cores=cores or settings.scorer_cores, scorer_driver_max_records=limit)
    scorer = ScoreStream(changed)
    print(f"-- scorer restarted: {setup_label(changed.scorer_cores, limit)}", flush=True)
    scorer.stop(log=lambda _: None)  # returns once its ports are closed
    scorer.start(log=lambda _: None)


def setup_label(cores: int, driver_max: int) -> str:
    small = f"batches <= {driver_max:,} on the driver" if driver_max > 0 else "every batch on the executors"
    return f"{cores} core(s), {small}"


def warm_up(producer: Producer, watcher: ResponseWatcher) -> None:
    """A few requests answered before measuring: a new scorer's first batches load and compile."""
    for _ in range(3):
        sent = produce_at(producer, 20, 2)
        watcher.wait_for(sent, timeout=180)


def print_table(results: dict[str, dict[str, str]]) -> None:
    columns = list(results)
    labels = list(dict.fromkeys(label for figures in results.values() for label in figures))
    width = max(len(label) for label in labels)
    print("\n" + " | ".join([" " * width, *columns]))
    for label in labels:
        print(" | ".join([label.ljust(width), *(results[c].get(label, "-") for c in columns)]))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="5,200")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--burst", type=int, default=50_000)
    parser.add_argument("--sustain", default="", help="comma-separated rates to hold, e.g. 2000,5000")
    parser.add_argument("--sustain-seconds", type=float, default=60)
    parser.add_argument("--cores", default="", help="the scorer's executor cores to try, e.g. 1,2")
    parser.add_argument("--driver-max-records", default="",
                        help="SCORER_DRIVER_MAX_RECORDS values to try, e.g. 0,500,20000 (0: none on the driver)")
    args = parser.parse_args(argv)
    producer = Producer({**kafka_auth.client_config(get_settings()), "linger.ms": 0})
    watcher = ResponseWatcher()
    watcher.start()
    try:
        settings = get_settings()
        limits = [int(n) for n in args.driver_max_records.split(",") if n]
        core_counts = [int(c) for c in args.cores.split(",") if c]
        if not limits and not core_counts:
            run_all(args, producer, watcher)
            return 0
        results: dict[str, dict[str, str]] = {}
        for cores in core_counts or [settings.scorer_cores]:
            for limit in limits or [settings.scorer_driver_max_records]:
                restart_scorer(cores, limit)
                warm_up(producer, watcher)
                results[setup_label(cores, limit)] = run_all(args, producer, watcher)
        print_table(results)
        restart_scorer()
    finally:
        watcher.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
