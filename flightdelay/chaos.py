"""Fault injection on the running embedded platform: steady load, one SIGKILL, then an audit.

Used by the chaos test suite (tests/chaos/) and `bench/chaos.py`. One run:

1. a bounded load: ~50 requests/s produced to the request topic and ~5/s through the web's POST
   route, each with a fresh UUID; only what Kafka or the web *accepted* counts as sent;
2. after a few seconds one fault: SIGKILL of a service's process (or a poison message);
3. no manual command afterwards: the supervisor must bring everything back;
4. the audit, within a deadline: every UUID sent has exactly one document in MongoDB, exactly one
   record in HDFS, at least one answer on the response topic and exactly one line in NiFi's files;
   every request the web accepted is answered by its response route.

The report gives, per sink, how many were lost and duplicated, the longest gap between answers,
and how long the killed service took to be healthy again.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import psutil
import requests

from flightdelay import kafka_auth
from flightdelay.canary import assign_since
from flightdelay.contract import new_request
from flightdelay.settings import Settings

ROUTES = [("JFK", "LAX", "AA"), ("LGA", "ORD", "UA"), ("EWR", "SFO", "UA"), ("JFK", "BOS", "B6")]
SINKS = ("mongodb", "hdfs", "responses", "nifi", "web")


def request_for(i: int) -> dict:
    origin, dest, carrier = ROUTES[i % len(ROUTES)]
    fields = {"Origin": origin, "Dest": dest, "Carrier": carrier, "FlightDate": f"2013-06-{1 + i % 28:02d}",
              "DepDelay": (i % 60) - 10}  # fmt: skip
    return new_request(fields)


@dataclass
class Sent:
    """What the load generator got accepted, and when."""

    kafka: dict[str, float] = field(default_factory=dict)  # UUID -> wall time accepted
    web: dict[str, float] = field(default_factory=dict)
    refused: Counter = field(default_factory=Counter)

    @property
    def all(self) -> set[str]:
        return set(self.kafka) | set(self.web)


class Load:
    """~`kafka_rate` requests/s to Kafka and ~`web_rate` through the web, until stopped."""

    def __init__(self, settings: Settings, kafka_rate: float = 50.0, web_rate: float = 5.0):
        self.settings = settings
        self.kafka_rate, self.web_rate = kafka_rate, web_rate
        self.sent = Sent()
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._to_kafka, daemon=True),
                        threading.Thread(target=self._to_web, daemon=True)]  # fmt: skip

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=400)

    def _paced(self, rate: float, send: Callable[[int], None]) -> None:
        i = 0
        started = time.monotonic()
        while not self.stop.is_set():
            send(i)
            i += 1
            time.sleep(max(0.0, started + i / rate - time.monotonic()))

    def _to_kafka(self) -> None:
        from confluent_kafka import Producer

        # idempotent, and patient: a request produced while Kafka is down is delivered once it returns
        producer = Producer({**kafka_auth.client_config(self.settings), "enable.idempotence": True,
                             "message.timeout.ms": 300_000})  # fmt: skip

        def delivered(err, msg) -> None:
            with self.lock:
                if err is None:
                    self.sent.kafka[msg.key().decode()] = time.time()
                else:
                    self.sent.refused[f"kafka: {err.name()}"] += 1

        def send(i: int) -> None:
            request = request_for(i)
            producer.produce(self.settings.request_topic, key=request["UUID"], value=json.dumps(request),
                             on_delivery=delivered)  # fmt: skip
            producer.poll(0)

        self._paced(self.kafka_rate, send)
        producer.flush(320)

    def _to_web(self) -> None:
        url = f"http://{self.settings.web_host}:{self.settings.web_port}/flights/delays/predict/classify_realtime"
        session = requests.Session()

        def send(i: int) -> None:
            fields = {k: v for k, v in request_for(i).items() if k in ("Origin", "Dest", "Carrier", "FlightDate", "DepDelay")}
            try:
                reply = session.post(url, json=fields, timeout=5)
            except requests.RequestException as exc:
                self.sent.refused[f"web: {type(exc).__name__}"] += 1
                return
            if reply.status_code == 200:
                with self.lock:
                    self.sent.web[reply.json()["id"]] = time.time()
            else:
                self.sent.refused[f"web: HTTP {reply.status_code}"] += 1

        self._paced(self.web_rate, send)


# --- faults -------------------------------------------------------------------------------------


def kill_service(name: str) -> Callable[[Settings], str]:
    def kill(settings: Settings) -> str:
        from flightdelay.embedded.platform import service

        pid = service(name).pid()
        if pid is None:
            raise RuntimeError(f"{name} is not running: nothing to kill")
        os.kill(pid, signal.SIGKILL)
        return name

    return kill


def kill_executor_worker(settings: Settings) -> str:
    """SIGKILL the Spark worker whose child runs the scorer's executor."""
    from flightdelay.embedded.platform import service
    from flightdelay.ops.scorer import running_apps

    app_ids = {a["id"] for a in running_apps(settings)}
    for name in ("spark-worker-1", "spark-worker-2"):
        pid = service(name).pid()
        if pid is None:
            continue
        for child in psutil.Process(pid).children(recursive=True):
            try:
                command = " ".join(child.cmdline())
            except psutil.NoSuchProcess:  # ended since the listing, or a zombie not reaped yet
                continue
            if any(app_id in command for app_id in app_ids):
                os.kill(pid, signal.SIGKILL)
                return name
    raise RuntimeError(f"no worker runs an executor of {app_ids or 'score_stream'}")


def poison(settings: Settings) -> str:
    """A request the scorer must dead-letter, not die on: 600 kB of random bytes."""
    from confluent_kafka import Producer

    producer = Producer(kafka_auth.client_config(settings))
    producer.produce(settings.request_topic, value=os.urandom(600_000))
    if producer.flush(30):
        raise RuntimeError("the poison message was not delivered")
    return "score-stream"


FAULTS: dict[str, Callable[[Settings], str]] = {
    "scorer": kill_service("score-stream"),
    "executor-worker": kill_executor_worker,
    "kafka": kill_service("kafka"),
    "mongodb": kill_service("ferretdb"),
    "postgres": kill_service("postgres"),
    "hdfs-datanode": kill_service("hdfs-datanode"),
    "hdfs-namenode": kill_service("hdfs-namenode"),
    "nifi": kill_service("nifi"),
    "web": kill_service("web"),
    "airflow-scheduler": kill_service("airflow-scheduler"),
    "poison": poison,
}


# --- audit --------------------------------------------------------------------------------------


@dataclass
class Report:
    fault: str
    sent: int
    web_accepted: int
    refused: dict
    lost: dict[str, int]
    duplicated: dict[str, int]
    answer_gap_s: float
    healed_s: float | None
    audited_s: float

    @property
    def ok(self) -> bool:
        return not any(self.lost.values()) and not any(self.duplicated.values()) and self.healed_s is not None

    def row(self) -> str:
        lost = " ".join(f"{k}={v}" for k, v in self.lost.items())
        dup = " ".join(f"{k}={v}" for k, v in self.duplicated.items())
        healed = f"{self.healed_s:.1f}" if self.healed_s is not None else "never"
        return (f"{self.fault:<17} sent {self.sent:>5} (web {self.web_accepted:>3})  lost [{lost}]  "
                f"duplicated [{dup}]  answer gap {self.answer_gap_s:5.1f}s  healed {healed}s")  # fmt: skip


def _mongo_found(settings: Settings, uuids: set[str]) -> set[str]:
    """Look-ups by _id (indexed and pushed down); $in is not pushed down by FerretDB."""
    from pymongo import MongoClient

    with MongoClient(settings.mongo_uri, serverSelectionTimeoutMS=5000) as client:
        coll = client[settings.mongo_database][settings.predictions_collection]
        return {u for u in uuids if coll.find_one({"_id": u}, {"_id": 1}) is not None}


def _hdfs_counts(settings: Settings, since: float) -> Counter:
    from hdfs import InsecureClient

    client = InsecureClient(settings.webhdfs_url, user=settings.hdfs_user)
    counts: Counter = Counter()
    for name, info in client.list(settings.hdfs_predictions_path, status=True):
        if name.startswith(".") or info["modificationTime"] / 1000 < since:
            continue
        with client.read(f"{settings.hdfs_predictions_path}/{name}", encoding="utf-8") as reader:
            counts.update(json.loads(line)["UUID"] for line in reader if line.strip())
    return counts


def _nifi_counts(settings: Settings, since: float) -> Counter:
    counts: Counter = Counter()
    for path in Path(settings.nifi_output_dir).glob("*.json"):
        if path.name.startswith(".") or path.stat().st_mtime < since:
            continue
        counts.update(r.get("UUID") for r in json.loads(path.read_text()) if isinstance(r, dict))
    return counts


class Answers:
    """Reads the response topic from a point in time: which UUIDs were answered, and when."""

    def __init__(self, settings: Settings, since_ms: int):
        from confluent_kafka import Consumer

        self.consumer = Consumer({**kafka_auth.client_config(settings), "group.id": f"chaos-{uuid.uuid4()}",
                                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})  # fmt: skip
        assign_since(self.consumer, settings.response_topic, since_ms)
        self.times: dict[str, list[float]] = {}

    def read(self, wanted: set[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not wanted <= set(self.times):
            for msg in self.consumer.consume(500, timeout=1.0):
                if msg.error() or msg.key() is None:
                    continue
                key = msg.key().decode(errors="replace")
                if key in wanted:
                    self.times.setdefault(key, []).append(msg.timestamp()[1] / 1000)

    def longest_gap(self) -> float:
        firsts = sorted(min(t) for t in self.times.values())
        return max((b - a for a, b in zip(firsts, firsts[1:])), default=0.0)

    def close(self) -> None:
        self.consumer.close()


def _web_unanswered(settings: Settings, uuids: set[str]) -> set[str]:
    base = f"http://{settings.web_host}:{settings.web_port}/flights/delays/predict/classify_realtime/response"
    missing = set()
    for u in uuids:
        try:
            reply = requests.get(f"{base}/{u}", timeout=5)
            if reply.status_code != 200 or reply.json().get("status") != "OK":
                missing.add(u)
        except requests.RequestException:
            missing.add(u)
    return missing


def _wait_healthy(name: str, timeout: float) -> float | None:
    """Seconds until the service is healthy again (None: not within the timeout)."""
    from flightdelay.embedded.platform import service

    victim = service(name)
    started = time.monotonic()
    time.sleep(1.0)  # the supervisor notices a death within a second; a probe right away would lie
    while time.monotonic() - started < timeout:
        if victim.pid() is not None and victim.health() is None:
            return time.monotonic() - started
        time.sleep(0.5)
    return None


def run_fault(settings: Settings, fault: str, load_s: float = 20.0, kill_after_s: float = 5.0,
              deadline_s: float = 240.0, log: Callable[[str], None] = print) -> Report:  # fmt: skip
    """Load, one fault, then wait until every sink holds what was sent (or the deadline)."""
    since = time.time() - 5
    answers = Answers(settings, int(since * 1000))
    try:
        with Load(settings) as load:
            time.sleep(kill_after_s)
            victim = FAULTS[fault](settings)
            killed_at = time.monotonic()
            log(f"{fault}: killed {victim}")
            healer = _Background(lambda: _wait_healthy(victim, deadline_s))
            time.sleep(max(0.0, load_s - kill_after_s))
        sent = load.sent
        uuids = sent.all
        log(f"{fault}: sent {len(uuids)} ({len(sent.web)} through the web), auditing")
        healed = healer.result()
        healed_s = None if healed is None else healed + (healer.started - killed_at)
        report = _audit(settings, fault, sent, answers, since, time.monotonic() + deadline_s)
        report.healed_s = healed_s
        return report
    finally:
        answers.close()


def _audit(settings: Settings, fault: str, sent: Sent, answers: Answers, since: float, deadline: float) -> Report:
    uuids = sent.all
    started = time.monotonic()
    lost: dict[str, int] = {}
    duplicated: dict[str, int] = {}
    while True:
        answers.read(uuids, timeout=min(30.0, max(1.0, deadline - time.monotonic())))
        mongo = _mongo_found(settings, uuids)
        hdfs = _hdfs_counts(settings, since)
        nifi = _nifi_counts(settings, since)
        web_missing = _web_unanswered(settings, set(sent.web))
        lost = {
            "mongodb": len(uuids - mongo),
            "hdfs": len(uuids - set(hdfs)),
            "responses": len(uuids - set(answers.times)),
            "nifi": len(uuids - set(nifi)),
            "web": len(web_missing),
        }
        duplicated = {
            "mongodb": 0,  # _id is the UUID: a second document cannot exist
            "hdfs": sum(1 for u in uuids if hdfs[u] > 1),
            "responses": 0,  # at least once is the contract for answers
            "nifi": sum(1 for u in uuids if nifi[u] > 1),
            "web": 0,
        }
        if not any(lost.values()) or time.monotonic() > deadline:
            break
        time.sleep(2.0)
    return Report(fault, len(uuids), len(sent.web), dict(sent.refused), lost, duplicated,
                  answers.longest_gap(), None, time.monotonic() - started)  # fmt: skip


class _Background:
    def __init__(self, work: Callable[[], float | None]):
        self.started = time.monotonic()
        self._value: float | None = None
        self._thread = threading.Thread(target=self._run, args=(work,), daemon=True)
        self._thread.start()

    def _run(self, work: Callable[[], float | None]) -> None:
        self._value = work()

    def result(self) -> float | None:
        self._thread.join()
        return self._value
