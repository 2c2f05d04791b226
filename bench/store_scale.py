"""Benchmark: how the prediction store behaves as the predictions collection grows.

    .venv/bin/python bench/store_scale.py [--sizes 1000000,10000000] [--batch 10000]
                                          [--lookups 500] [--requests 300] [--max-minutes 40] [--keep]

Needs the platform's MongoDB server (`flightdelay up ferretdb`; FerretDB on PostgreSQL). Creates
the scratch database `bench_store_scale_<hex>` with the platform's collections and indexes
(flightdelay.store.indexes.ensure_indexes), then fills its predictions collection with
prediction-shaped documents (_id = UUID, as the scorer's MongoDB sink writes them, insert_many
unordered, one client) up to each of --sizes. At each size it prints:
- the insert rate over the last step and over the most recent --window documents, against the
  rate into the empty collection (its first --baseline documents);
- find_one by _id (= UUID, the platform's filter, flightdelay.store.queries), p50/p99 over
  --lookups look-ups, half of them hits (ids inserted) and half misses, and the plan PostgreSQL
  chose for each;
- the web's response route for ids nobody sent (404 UNKNOWN after one MongoDB look-up), p50/p99
  over --requests requests through Flask's test client pointed at the scratch database;
- the disk size of the predictions table with its indexes.
Filling stops after --max-minutes: the last size reached is then measured and reported as such.
The scratch database is dropped afterwards (also on Ctrl-C or an error) unless --keep. Prints
figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import logging
import random
import signal
import socket
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from psycopg2 import sql
from pymongo import MongoClient

from flightdelay.flights.labels import DELAY_LABELS
from flightdelay.settings import get_settings
from flightdelay.store import postgres
from flightdelay.store.indexes import ensure_indexes, ferretdb_tables
from flightdelay.store.queries import by_id
from flightdelay.store.retention import scored_day

RESPONSE = "/flights/delays/predict/classify_realtime/response/{}"
ROUTES = [("JFK", "LAX", "AA", 2475.0), ("LGA", "ORD", "UA", 733.0), ("EWR", "SFO", "UA", 2565.0),
          ("JFK", "BOS", "B6", 187.0), ("LGA", "ATL", "DL", 762.0)]  # fmt: skip
RESERVOIR = 5_000  # inserted ids kept for the hits, sampled over the whole collection
START = datetime(2026, 11, 1, tzinfo=timezone.utc)


def prediction(i: int) -> dict:
    """One document as the scorer's MongoDB sink writes it; ScoredAt spread over 30 days, so
    ScoredDay has the cardinality of a collection under the default retention."""
    key = str(uuid.uuid4())
    origin, dest, carrier, distance = ROUTES[i % len(ROUTES)]
    scored = START + timedelta(seconds=(i * 7) % (30 * 86400))
    scored_at = scored.isoformat()
    label = i % len(DELAY_LABELS)
    probabilities = [0.2] * len(DELAY_LABELS)
    probabilities[label] = 0.4
    return {
        "_id": key, "UUID": key, "ScoredDay": scored_day(scored_at), "Origin": origin, "Dest": dest,
        "Carrier": carrier, "FlightDate": (scored + timedelta(days=1)).date().isoformat(),
        "DepDelay": float(i % 60 - 10), "Distance": distance, "Prediction": float(label),
        "PredictionLabel": DELAY_LABELS[label], "Probabilities": probabilities,
        "ModelVersion": "v20261101T000000Z", "ScoredAt": scored_at,
        "RequestProducedAt": (scored - timedelta(milliseconds=180)).isoformat(),
    }  # fmt: skip


class Interrupts:
    """Ctrl-C and SIGTERM stop the run (KeyboardInterrupt), but never in the middle of an
    insert_many: the server finishes a batch its client gave up on, and FerretDB re-creates a
    database that an insert finds dropped, so the scratch database came back after the drop."""

    def __init__(self) -> None:
        self.deferring = self.pending = False

    def __call__(self, signum, frame) -> None:
        if not self.deferring:
            raise KeyboardInterrupt
        self.pending = True

    @contextmanager
    def deferred(self):
        self.deferring = True
        try:
            yield
        finally:
            self.deferring = False
        if self.pending:
            raise KeyboardInterrupt


INTERRUPTS = Interrupts()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Filler:
    """Inserts batches and remembers what each cost, so any window's rate can be computed."""

    collection: object
    batch: int
    count: int = 0
    batches: list[tuple[int, float]] = field(default_factory=list)  # (documents, seconds of insert_many)
    sample: list[str] = field(default_factory=list)  # reservoir of inserted ids

    def insert_batch(self, size: int) -> None:
        documents = [prediction(self.count + n) for n in range(size)]
        started = time.perf_counter()  # only the insert is timed: building documents is the bench's cost
        with INTERRUPTS.deferred():
            self.collection.insert_many(documents, ordered=False)
        self.batches.append((size, time.perf_counter() - started))
        for document in documents:  # reservoir sampling: every inserted id equally likely
            self.count += 1
            if len(self.sample) < RESERVOIR:
                self.sample.append(document["_id"])
            elif (slot := random.randrange(self.count)) < RESERVOIR:
                self.sample[slot] = document["_id"]

    def fill_to(self, target: int, deadline: float, progress_s: float) -> bool:
        """Insert up to ``target`` documents; False when the deadline stopped it first."""
        shown_at, shown_count = time.monotonic(), self.count
        while self.count < target:
            if time.monotonic() >= deadline:
                return False
            self.insert_batch(min(self.batch, target - self.count))
            now = time.monotonic()
            if now - shown_at >= progress_s:
                rate = (self.count - shown_count) / (now - shown_at)
                print(f"  {self.count:>12,} documents, {rate:,.0f} docs/s over the last {now - shown_at:.0f}s", flush=True)
                shown_at, shown_count = now, self.count
        return True

    def rate(self, first: int | None = None, last: int | None = None) -> float | None:
        """docs/s of insert_many over the first ``first`` or the last ``last`` documents."""
        chosen, total = [], 0
        for size, seconds in self.batches if first is not None else reversed(self.batches):
            if total >= (first if first is not None else last):
                break
            chosen.append(seconds)
            total += size
        return total / sum(chosen) if chosen and sum(chosen) > 0 else None


def lookup_latencies(collection, make_filter, hits: list[str], misses: list[str]) -> dict:
    """p50/p99 ms of find_one for hits and misses in a shuffled order; counts wrong answers."""
    probes = [(key, True) for key in hits] + [(key, False) for key in misses]
    random.shuffle(probes)
    for key, _ in probes[:10]:  # warm the connection pool; not measured
        collection.find_one(make_filter(key))
    times = {True: [], False: []}
    wrong = 0
    for key, present in probes:
        started = time.perf_counter()
        found = collection.find_one(make_filter(key))
        times[present].append((time.perf_counter() - started) * 1000)
        wrong += (found is not None) != present
    everything = times[True] + times[False]
    return {"p50": percentile(everything, 0.5), "p99": percentile(everything, 0.99),
            "hit_p50": percentile(times[True], 0.5), "miss_p50": percentile(times[False], 0.5), "wrong": wrong}  # fmt: skip


def plan_of(db, collection: str, query: dict) -> str:
    """The scan PostgreSQL chose for a filter, via FerretDB's explain ("Seq Scan" means no index)."""
    explained = db.command("explain", {"find": collection, "filter": query})
    kinds, pending = [], [explained["queryPlanner"]["Plan"]]
    while pending:
        node = pending.pop()
        kinds.append(node["Node Type"] + (f" {node['Index Name'][:24]}" if "Index Name" in node else ""))
        pending += node.get("Plans", [])
    scans = [kind for kind in kinds if "Scan" in kind]
    pushed = "" if explained.get("filterPushdown") else "NOT PUSHED DOWN; "
    return pushed + (", ".join(scans) or ", ".join(kinds))


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released), for Kafka: see below."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def response_route_latencies(settings, database: str, requests: int) -> dict:
    """p50/p99 ms of GET .../response/<unknown uuid> through Flask's test client."""
    from flightdelay.web import close_app, create_app
    from flightdelay.web.config import WebConfig

    # The route calls bridge.start(), which only starts the response listener's thread: the
    # look-up itself never waits for Kafka (an unknown id is the cache, then one MongoDB find by
    # _id). As in tests/unit/test_web_routes.py, Kafka is pointed at a closed port so this bench
    # reads nothing from the platform's response topic; the listener retries in the background
    # (its warnings are silenced) and close_app stops it.
    for name in ("flightdelay.web.kafka_bridge", "flightdelay.web.librdkafka"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    config = WebConfig.from_settings(
        settings, mongo_database=database, predictions_collection=settings.predictions_collection,
        kafka_bootstrap=f"127.0.0.1:{closed_port()}", produce_timeout_s=0.5,
        carriers_from_history=False, cache_dir=None, testing=True,
    )  # fmt: skip
    app = create_app(config)
    try:
        client = app.test_client()
        for _ in range(5):  # the app's MongoDB client is created at first use: not measured
            client.get(RESPONSE.format(uuid.uuid4()))
        times, other = [], {}
        for _ in range(requests):
            started = time.perf_counter()
            reply = client.get(RESPONSE.format(uuid.uuid4()))
            times.append((time.perf_counter() - started) * 1000)
            if reply.status_code != 404 or reply.json.get("status") != "UNKNOWN":
                other[reply.status_code] = other.get(reply.status_code, 0) + 1
        return {"p50": percentile(times, 0.5), "p99": percentile(times, 0.99), "other": other}
    finally:
        close_app(app)


def disk_mib(settings, database: str) -> tuple[float, float]:
    """(table + indexes, indexes only) of the predictions collection's PostgreSQL table, MiB."""
    table = ferretdb_tables(settings, database)[settings.predictions_collection]
    with postgres.connect(settings, postgres.FERRETDB) as connection, connection.cursor() as cursor:
        relation = sql.Identifier(database, table).as_string(connection)
        cursor.execute("SELECT pg_total_relation_size(%s::regclass), pg_indexes_size(%s::regclass)", (relation, relation))
        total, indexes = cursor.fetchone()
    return total / 2**20, indexes / 2**20


def measure(db, settings, filler: Filler, args, step_rate: float | None) -> dict:
    """Every figure at the collection's current size."""
    collection = db[settings.predictions_collection]
    hits = random.sample(filler.sample, min(args.lookups // 2, len(filler.sample)))
    misses = [str(uuid.uuid4()) for _ in range(args.lookups - len(hits))]
    print(f"  measuring at {filler.count:,} documents", flush=True)
    row = {"size": filler.count, "step_rate": step_rate, "window_rate": filler.rate(last=args.window)}
    row["by_id"] = lookup_latencies(collection, by_id, hits, misses)
    row["plan_id"] = plan_of(db, settings.predictions_collection, by_id(misses[0]))
    row["route"] = response_route_latencies(settings, db.name, args.requests)
    row["disk"] = disk_mib(settings, db.name)
    return row


def report(rows: list[dict], baseline: float | None, baseline_docs: int, window: int, note: str) -> None:
    """The figures as a table: one column per size."""
    def rate(value):
        return "-" if value is None else f"{value:,.0f}"

    def ratio(value):
        return "-" if value is None or not baseline else f"{value / baseline:.2f}x"

    def ms(figures, a="p50", b="p99"):
        return f"{figures[a]:.1f} / {figures[b]:.1f}"

    lines = [
        ("insert rate, last step (docs/s)", lambda r: rate(r["step_rate"])),
        (f"insert rate, last {window:,} docs (docs/s)", lambda r: rate(r["window_rate"])),
        ("  ratio to the empty collection", lambda r: ratio(r["window_rate"])),
        ("find_one by _id p50 / p99 (ms)", lambda r: ms(r["by_id"])),
        ("  hits / misses p50 (ms)", lambda r: ms(r["by_id"], "hit_p50", "miss_p50")),
        ("response route, unknown id p50 / p99 (ms)", lambda r: ms(r["route"])),
        ("predictions table + indexes (MiB)", lambda r: f"{r['disk'][0]:,.0f}"),
        ("  of which indexes (MiB)", lambda r: f"{r['disk'][1]:,.0f}"),
        ("  bytes per document", lambda r: f"{r['disk'][0] * 2**20 / r['size']:,.0f}"),
    ]
    width = max(14, *(len(f"{r['size']:,}") + 2 for r in rows))
    print(f"\nempty collection (first {baseline_docs:,} docs): {rate(baseline)} docs/s{note}")
    print(f"{'documents in the collection':<44}" + "".join(f"{r['size']:>{width},}" for r in rows))
    for label, cell in lines:
        print(f"{label:<44}" + "".join(f"{cell(r):>{width}}" for r in rows))
    for r in rows:
        problems = [f"{r[k]['wrong']} wrong find_one answers by {k[3:]}" for k in ("by_id",) if r[k]["wrong"]]
        problems += [f"response route answered {code} {n} times" for code, n in r["route"]["other"].items()]
        print(f"at {r['size']:,}: plan by _id (= UUID): {r['plan_id']}")
        for problem in problems:
            print(f"  !! {problem}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000000,10000000", help="collection sizes to measure at, comma-separated")
    parser.add_argument("--batch", type=int, default=10_000, help="documents per insert_many")
    parser.add_argument("--window", type=int, default=200_000, help="recent documents the insert rate is taken over")
    parser.add_argument("--baseline", type=int, default=100_000, help="first documents: the empty-collection rate")
    parser.add_argument("--lookups", type=int, default=500, help="find_one per filter, half hits")
    parser.add_argument("--requests", type=int, default=300, help="response route requests per size")
    parser.add_argument("--max-minutes", type=float, default=40.0, help="stop filling after this long")
    parser.add_argument("--progress-seconds", type=float, default=5.0)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database (prints its name)")
    args = parser.parse_args(argv)
    sizes = sorted({int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()})
    if not sizes or sizes[0] <= 0:
        parser.error("--sizes needs positive numbers")

    # also SIGINT: a shell starts background jobs with it ignored
    signal.signal(signal.SIGINT, INTERRUPTS)
    signal.signal(signal.SIGTERM, INTERRUPTS)
    settings = get_settings()
    client = MongoClient(settings.mongo_uri, serverSelectionTimeoutMS=10_000)
    name = f"bench_store_scale_{uuid.uuid4().hex[:10]}"
    db = client[name]
    deadline = time.monotonic() + args.max_minutes * 60
    rows: list[dict] = []
    note = ""
    try:
        print(f"scratch database {name}: creating the platform's collections and indexes", flush=True)
        ensure_indexes(db, settings, log=print)
        filler = Filler(db[settings.predictions_collection], args.batch)
        try:
            for size in sizes:
                print(f"filling to {size:,} documents", flush=True)
                step_from = len(filler.batches)
                reached = filler.fill_to(size, deadline, args.progress_seconds)
                step = filler.batches[step_from:]  # this step's batches: the rate since the last size
                step_seconds = sum(seconds for _, seconds in step)
                step_rate = sum(n for n, _ in step) / step_seconds if step_seconds else None
                if filler.count and (not rows or rows[-1]["size"] < filler.count):
                    rows.append(measure(db, settings, filler, args, step_rate))
                if not reached:
                    note = (f"\nTIME LIMIT: --max-minutes {args.max_minutes:g} ran out at {filler.count:,} documents; "
                            f"sizes not reached: {', '.join(f'{s:,}' for s in sizes if s > filler.count)}")  # fmt: skip
                    break
        except KeyboardInterrupt:
            note = f"\nINTERRUPTED at {filler.count:,} documents: sizes measured before that are shown"
        if rows:
            report(rows, filler.rate(first=args.baseline), min(args.baseline, filler.count), args.window, note)
        else:
            print(f"nothing measured{note}")
    finally:
        if args.keep:
            print(f"kept the scratch database {name}")
        else:
            client.drop_database(name)
            if name in client.list_database_names():
                print(f"!! the scratch database {name} is still there: drop it by hand")
            else:
                print(f"dropped the scratch database {name}")
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
