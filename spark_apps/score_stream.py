"""Score prediction requests from Kafka in real time with the current promoted model.

    spark-submit --master spark://127.0.0.1:7077 --name score_stream \
        --jars build/jars/spark-kafka/*.jar (comma-separated) spark_apps/score_stream.py

Normally started by the `flight_delay_streaming` DAG (or `flightdelay up score-stream`), which
keeps exactly one instance running.

One streaming query reads the request topic (from the earliest offset on the very first start,
then from its checkpoint on HDFS, so requests sent while it was down are scored when it returns)
and fans each micro-batch out in ``foreachBatch``: predictions to the response topic (key = UUID),
MongoDB ``flight_delay_ml_response`` (once per UUID) and HDFS ``/user/predictions`` (one JSON
Lines file per batch id); malformed requests to the dead-letter topic with the reason. The model
is swapped between micro-batches when the training DAG promotes a new version. A small batch is
read from Kafka and scored by the driver itself (flightdelay.scoring.small_batches); a bigger one
is a Spark job whose tasks score it (flightdelay.scoring.on_executors).

No record stops the query: a request over the contract's size limit is dead-lettered unread, any
record the parser cannot handle is dead-lettered, every dead letter is bounded to fit the topic,
and a message Kafka refuses for what it is becomes a note on the dead-letter topic (or, refused
again, a log line and the heartbeat's ``skipped`` count) while the rest of the batch goes on.

A query stopped by an HDFS outage is restarted in this process once HDFS takes writes again
(flightdelay.scoring.recovery); the start itself runs its slow steps side by side (see main).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pymongo
from pymongo import MongoClient
from pyspark import SparkConf, SparkContext
from pyspark.errors import StreamingQueryException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming import StreamingQuery

from flightdelay import kafka_auth
from flightdelay.flights.geo import RouteDistances, load_airports
from flightdelay.flights.mongo_import import load_known_distances
from flightdelay.model.registry import ModelRegistry, model_path
from flightdelay.model.scope import ModelScope
from flightdelay.ops.scorer import EXECUTOR_ARCHIVE
from flightdelay.ops.spark import missing_class_archive
from flightdelay.scoring import compiled_cache
from flightdelay.scoring.batch_work import PhaseClock, age_of, newest_request_age, score_records, send_answers
from flightdelay.scoring.kafka_reads import read_records, record_columns, record_executor_classes, warm_up_executor
from flightdelay.scoring.metrics import ScorerMetrics
from flightdelay.scoring.model_holder import ModelHolder
from flightdelay.scoring.on_executors import PHASES, SUMMARY_SCHEMA, Shipments, job_phases, score_partitions
from flightdelay.scoring.recovery import RestartBudget, first_line
from flightdelay.scoring.serving import (
    ServingModel,
    checked_compiled_model,
    compiled_labels,
    pipeline_labels,
    serving_model,
)
from flightdelay.scoring.sinks import HdfsSink, KafkaSink, MongoSink, MongoTrail
from flightdelay.scoring.small_batches import SmallBatchReader
from flightdelay.settings import get_settings
from flightdelay.waiting import WaitTimeout, wait_until

APP_NAME = "score_stream"
DISTANCES_REFRESH_SECONDS = 600
BACKLOG_WAIT_S = 2.0  # how long the warm-up looks for requests waiting for the query's first batch


def log(message: str) -> None:
    print(f"[score_stream {datetime.now(timezone.utc):%H:%M:%S}] {message}", flush=True)


class Scorer:
    """What one micro-batch does; holds the clients and reference data between batches."""

    def __init__(self, context: SparkContext, heartbeat: Path | None, driver_max_records: int = 0):
        self.spark: SparkSession | None = None  # set once the session is up (see main)
        self.shipments = Shipments(context)  # what the executors' tasks score with
        # one task per executor core (see on_executors): spark.cores.max, as ScoreStream sets it
        self.tasks = int(context.getConf().get("spark.cores.max", "0")) or context.defaultParallelism
        self.replay_possible = True  # the first batch of a query (re)start may be a replayed one
        self.settings = get_settings()
        self.mongo = MongoClient(self.settings.mongo_uri)
        self.db = self.mongo[self.settings.mongo_database]
        self.registry = ModelRegistry(self.db, self.settings)
        self.models = ModelHolder(current_version=self._current_version, load=self._load_model, log=log)
        self.kafka = KafkaSink(self.settings)
        self.predictions = MongoSink(self.settings)
        self.files = HdfsSink(self.settings, context, staging=self.settings.var_dir / "score-stream" / "staging")
        offset_log = f"{checkpoint_folder(self.settings)}/offsets"
        self.small_batches = SmallBatchReader(
            self.settings, lambda batch_id: self.files.read_text(f"{offset_log}/{batch_id}"),
            driver_max_records,
        )  # fmt: skip
        self.hdfs_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hdfs")
        self.mongo_trail = MongoTrail(self.predictions)
        # the history's route distances, read again every 10 minutes between batches; while
        # MongoDB is down the last table and great-circle distances serve (as in the web)
        self.distances = RouteDistances(
            self._known_distances, dict(load_airports()), ttl_s=DISTANCES_REFRESH_SECONDS, log=log
        )
        self.heartbeat = heartbeat
        self.skipped = 0  # records neither answered nor dead-lettered, since the start
        self.metrics = ScorerMetrics()

    def _load_model(self, version: str) -> ServingModel:
        record = self.registry.get(version)  # its data window and held-out accuracy (Flags)
        compiled = compiled_cache.load(self.settings, version, log)
        if compiled is not None:  # checked against Spark when first loaded: a restart skips that
            log(f"model {version}: compiled form from {compiled_cache.cache_path(self.settings, version)}")
            serving, labels = checked_compiled_model(version, compiled), compiled_labels(compiled)
        else:
            from pyspark.ml import PipelineModel  # ~2.8 s of imports (pandas, scipy) a cached model skips

            path = model_path(version, self.settings)
            pipeline = PipelineModel.load(path)
            serving, labels = serving_model(self.spark, version, pipeline, log, path), pipeline_labels(pipeline)
            if serving.compiled is not None:
                compiled_cache.save(self.settings, version, serving.compiled)
        return replace(serving, scope=ModelScope.of(record, labels))

    def _known_distances(self) -> dict:
        with pymongo.timeout(5):  # a batch waits this long at most for a store that is down
            return load_known_distances(self.db)

    def _current_version(self) -> str | None:
        current = self.registry.current()
        return current["version"] if current else None

    def beat(self, **state) -> None:
        if self.heartbeat:
            state.update(driver_max_records=self.small_batches.max_records, at=datetime.now(timezone.utc).isoformat())
            staged = self.heartbeat.with_name(self.heartbeat.name + ".next")
            staged.write_text(json.dumps(state))
            staged.replace(self.heartbeat)  # a reader never sees a half-written file

    def score(self, batch: DataFrame, batch_id: int) -> None:
        model = self.models.get().model
        self.distances.known()  # a stale table is read again here, not in the middle of the batch
        if self.replay_possible:  # a replayed batch may have been written by the other path
            cleared = self.files.clear_batch(batch_id)
            if cleared:
                log(f"batch {batch_id} is replayed: its {cleared} earlier files removed")
            self.replay_possible = False
        clock = PhaseClock()
        records = self.small_batch(batch_id, clock)
        if records is not None:
            self.score_on_driver(batch_id, model, records, clock, "driver, read directly")
        elif model.compiled is not None:
            self.score_on_executors(batch, batch_id, model)
        else:  # a version served by Spark's transform (see serving) is scored on the driver:
            # the executors read the batch from Kafka, the driver parses and scores it
            records = read_records(batch)
            clock.lap("read")
            self.score_on_driver(batch_id, model, records, clock, "driver")

    def small_batch(self, batch_id: int, clock: PhaseClock) -> list[tuple] | None:
        """The batch's records, read by the driver itself if the batch is small (see
        small_batches); None for a big batch, or when Spark's read has to decide."""
        try:
            ranges = self.small_batches.ranges(batch_id)
            if ranges is None:
                return None
            clock.lap("offsets")
            records = self.small_batches.read(ranges)
        except Exception as exc:  # noqa: BLE001 - Kafka or HDFS slow or down: Spark's read of the batch decides
            log(f"batch {batch_id}: read by Spark ({first_line(exc)})")
            return None
        clock.lap("read")
        return records

    def score_on_driver(
        self, batch_id: int, model: ServingModel, records: list[tuple], clock: PhaseClock, where: str
    ) -> None:
        valid, invalid = score_records(records, model, self.distances, clock)

        # Kafka and HDFS at once, both done before Spark commits the batch; if one fails the batch
        # is replayed (the responses are sent again, at-least-once keyed by UUID; the HDFS file
        # is replaced). MongoDB, the slowest sink, trails by one batch (sinks.MongoTrail).
        written = self.hdfs_writer.submit(self.files.write_batch, batch_id, valid)
        skipped = send_answers(self.kafka, self.settings, valid, invalid, log)
        self.skipped += skipped
        clock.lap("kafka")
        written.result()
        clock.lap("hdfs")
        self.mongo_trail.follow(valid)
        clock.lap("mongo wait")
        self.batch_done(batch_id, model, len(valid), len(invalid), skipped, clock, newest_request_age(records), where)

    def score_on_executors(self, batch: DataFrame, batch_id: int, model: ServingModel) -> None:
        """One Spark job: each task scores its partition and writes all its outputs (on_executors)."""
        clock = PhaseClock()
        self.mongo_trail.wait()  # the driver's path may have left one insert running
        task = score_partitions(
            batch_id, self.settings, self.shipments.model(model), self.shipments.distances(self.distances.known())
        )
        records = batch.select(*record_columns()).coalesce(self.tasks)
        summaries = records.mapInArrow(task, SUMMARY_SCHEMA).collect()
        clock.lap("tasks")
        # the slowest task's phases, in the log line and the metrics
        slowest = max(summaries, key=lambda row: row["total"], default=None)
        laps = clock.laps
        if slowest is not None:
            clock.phases.append("slowest task: " + ", ".join(f"{p} {slowest[p] * 1000:.0f}" for p in PHASES))
            laps = job_phases(clock.laps[-1][1], slowest)
        age = age_of(max((row["newest_us"] for row in summaries if row["newest_us"] is not None), default=None))
        skipped = sum(row["skipped"] for row in summaries)
        self.skipped += skipped
        scored, dead = sum(row["scored"] for row in summaries), sum(row["dead_lettered"] for row in summaries)
        self.batch_done(batch_id, model, scored, dead, skipped, clock, age, f"{len(summaries)} tasks", laps)

    def batch_done(
        self, batch_id: int, model: ServingModel, scored: int, dead: int, skipped: int, clock: PhaseClock,
        newest_age: float | None, where: str, laps: list[tuple[str, float]] | None = None,
    ) -> None:  # fmt: skip
        log(
            f"batch {batch_id}: {scored} scored, {dead} dead-lettered, {skipped} skipped, "
            f"model {model.version} ({model.engine}, {where}), {clock}"
        )
        self.beat(state="running", batch_id=batch_id, model=model.version, engine=model.engine,
                  scored=scored, skipped=self.skipped)  # fmt: skip
        self.metrics.batch_done(laps or clock.laps, scored, dead, skipped, newest_age)
        self.metrics.serving(model.version, model.engine)


class ProgressWatcher:
    """Once a second, the query's newest progress: the Kafka source's offsets-behind figure for
    the metrics, and where the engine's time went (offset log, commit log, planning) in a slow
    batch. A StreamingQueryListener did this for every batch, but PySpark hands each event to
    Python through dozens of Py4J calls (and failed class lookups): at a few requests/s that cost
    the driver more CPU than the batches themselves. A look costs two calls; a slow batch that
    ends between two looks and is followed by another batch at once goes unlogged."""

    SLOW_MS = 1000
    INTERVAL_S = 1.0

    def __init__(self, metrics: ScorerMetrics):
        self.metrics = metrics
        self.query: StreamingQuery | None = None
        self.seen_batch = -1

    def follow(self, query: StreamingQuery) -> None:
        """Watch this query (a restarted one replaces the last); the first call starts the thread."""
        started = self.query is not None
        self.query = query
        if not started:
            threading.Thread(target=self._watch, name="progress", daemon=True).start()

    def _watch(self) -> None:
        while True:
            time.sleep(self.INTERVAL_S)
            try:
                progress = self.query.lastProgress
            except Exception as exc:  # noqa: BLE001 - a query between restarts; the next look tries again
                log(f"query progress unavailable: {first_line(exc)}")
                continue
            if progress is not None and progress.batchId != self.seen_batch:
                self.seen_batch = progress.batchId
                self.report(progress)

    def report(self, progress) -> None:
        for source in progress.sources:
            self.metrics.progress(dict(source.metrics or {}))
        durations = dict(progress.durationMs)
        if durations.get("triggerExecution", 0) >= self.SLOW_MS:
            log(f"slow batch {progress.batchId}: {progress.numInputRows} rows, engine ms {durations}")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser_ = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser_.add_argument("--max-offsets-per-trigger", type=int, default=20_000)
    parser_.add_argument("--trigger-seconds", type=float, default=0.0, help="0: start the next batch at once")
    parser_.add_argument("--polling-ms", type=int, default=50, help="idle wait before looking for new requests")
    parser_.add_argument("--heartbeat", type=Path, default=None, help="a file updated after every batch")
    parser_.add_argument(
        "--driver-max-records", type=int, default=get_settings().scorer_driver_max_records,
        help="a batch of at most this many requests is read and scored by the driver, a bigger one by the "
        "executors (SCORER_DRIVER_MAX_RECORDS)",
    )  # fmt: skip
    return parser_.parse_args(argv)


def spark_context(args: argparse.Namespace) -> SparkContext:
    conf = (
        SparkConf()
        .setAppName(APP_NAME)
        .set("spark.sql.shuffle.partitions", "2")
        # how long an idle query sleeps before asking Kafka again: 10 ms by default, which kept
        # a third of a core busy doing nothing
        .set("spark.sql.streaming.pollingDelay", f"{args.polling_ms}ms")
        .set("spark.sql.execution.arrow.maxRecordsPerBatch", "10000")
        # a micro-batch is one Kafka scan and a three-column projection: compiling it into one
        # stage saves nothing per row here, and cost a new executor's first read about twice the
        # time (21.6-23.6 s against 12.9 s under load), which is the answer gap after a restart
        .set("spark.sql.codegen.wholeStage", "false")
    )
    return SparkContext.getOrCreate(conf)


def set_up(context: SparkContext, args: argparse.Namespace) -> Scorer:
    """The clients, and MongoDB's trail restored from the newest batch files: all it needs is the
    context, so it runs while the SQL session starts."""
    scorer = Scorer(context, args.heartbeat, args.driver_max_records)
    scorer.beat(state="starting")
    restored = scorer.mongo_trail.restore(scorer.files)
    log(f"{restored} predictions of the newest batch files were missing from MongoDB and are restored")
    return scorer


def start_query(spark: SparkSession, scorer: Scorer, args: argparse.Namespace) -> StreamingQuery:
    settings = scorer.settings
    requests = (
        spark.readStream.format("kafka")
        .options(**kafka_auth.java_client_options(settings, prefix="kafka."))
        .option("subscribe", settings.request_topic)
        .option("startingOffsets", "earliest")  # first start only; then the checkpoint decides
        .option("failOnDataLoss", "false")
        # the executors' consumers keep a fetch in flight; the broker holds one that finds no
        # data for fetch.max.wait.ms (500 ms by default) and the next batch's read waits for it
        .option("kafka.fetch.max.wait.ms", "10")
        .option("maxOffsetsPerTrigger", args.max_offsets_per_trigger)
        .load()
    )
    writer = (
        requests.writeStream.queryName(APP_NAME)
        .foreachBatch(scorer.score)
        .option("checkpointLocation", f"{settings.hdfs_uri}{checkpoint_folder(settings)}")
    )
    if args.trigger_seconds > 0:
        writer = writer.trigger(processingTime=f"{args.trigger_seconds} seconds")
    scorer.replay_possible = True
    query = writer.start()
    scorer.beat(state="running", model=scorer.models.get().version)
    log(f"query {query.id} started on {settings.request_topic}")
    return query


def checkpoint_folder(settings) -> str:
    return f"{settings.hdfs_checkpoints_path}/{APP_NAME}"


def recover(scorer: Scorer, reason: str) -> None:
    """After the query stopped: MongoDB's pending insert settled, HDFS taking writes again, the
    newest batch files' predictions in MongoDB (see recovery)."""
    scorer.beat(state="recovering", reason=reason)
    try:
        scorer.mongo_trail.wait()
    except Exception as exc:  # noqa: BLE001 - restored from its HDFS file below
        log(f"the last MongoDB insert failed ({first_line(exc)}); its batch file restores it")
    folder = checkpoint_folder(scorer.settings)
    waited = wait_until(lambda: scorer.files.write_problem(folder), f"HDFS to take writes in {folder}", log=log)
    restored = scorer.mongo_trail.restore(scorer.files)
    log(f"HDFS takes writes again (waited {waited:.1f} s); {restored} predictions restored to MongoDB")


def run(spark: SparkSession, scorer: Scorer, args: argparse.Namespace, clock: PhaseClock | None) -> int:
    """Run the query; after it stops on an error, restart it in this process within the budget."""
    budget = RestartBudget()
    watcher = ProgressWatcher(scorer.metrics)
    while True:
        query = start_query(spark, scorer, args)
        watcher.follow(query)
        if clock is not None:  # the first start
            threading.Thread(target=warm_up, args=(spark, scorer.settings, query), name="warm-up", daemon=True).start()
            clock.lap("query")
            log(f"started in {clock}")
            clock = None
        try:
            query.awaitTermination()
            return 0
        except StreamingQueryException as exc:
            reason = first_line(exc)
            if spark.sparkContext._jsc.sc().isStopped() or not budget.take(time.monotonic()):
                log(f"query stopped: {reason}; exiting (too many restarts, or the Spark context is gone)")
                raise
            log(f"query stopped: {reason}; restarting it in this process")
            recover(scorer, reason)


def warm_up(spark: SparkSession, settings, query: StreamingQuery) -> None:
    """Warm the new executor up unless requests are already waiting (after a restart): then the
    first micro-batch does that, and a warm-up task would only hold up its read on the executor's
    one core. Once the executor is warm, it archives its classes if it has no archive yet."""
    try:
        wait_until(lambda: None if query.status.get("isDataAvailable") else "none yet", "waiting requests",
                   timeout=BACKLOG_WAIT_S, interval=0.2)  # fmt: skip
    except WaitTimeout:
        warm_up_executor(spark, settings, log)
    else:
        log("requests are waiting: the first micro-batch warms the executor up")
        with contextlib.suppress(WaitTimeout):
            wait_until(lambda: None if query.lastProgress else "running", "the first micro-batch", timeout=120)
    archive = missing_class_archive(settings, EXECUTOR_ARCHIVE)
    if archive is not None:
        record_executor_classes(spark, archive, log)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    settings = get_settings()
    if "SCORING_ON" in os.environ:  # an older platform's setting, still in someone's environment
        log("SCORING_ON is no longer read: SCORER_DRIVER_MAX_RECORDS decides (0: every batch on the executors,"
            " 20000: every batch on the driver)")  # fmt: skip
    clock = PhaseClock()
    context = spark_context(args)
    clock.lap("context")
    # the SQL session costs ~7 s of JVM warm-up (its function registry, Scala reflection); the
    # clients and the restore only need the context, so they run beside it
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="set-up") as pool:
        preparing = pool.submit(set_up, context, args)
        spark = SparkSession(context)
        clock.lap("session")
        scorer = preparing.result()
        clock.lap("set-up")
    scorer.spark = spark
    scorer.metrics.serve(settings.bind_host, settings.scorer_metrics_port, log)
    scorer.beat(state="waiting for a model")
    loaded = scorer.models.wait_for_model()
    limit = args.driver_max_records
    log(f"scoring with model {loaded.version}: batches of at most {limit:,} requests on the driver, bigger ones"
        f" on the executors")  # fmt: skip
    scorer.models.start()
    clock.lap("model")
    return run(spark, scorer, args, clock)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
