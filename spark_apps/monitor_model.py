"""Monitor the serving model over a window of predictions, on the Spark cluster.

    spark-submit --master spark://127.0.0.1:7077 --conf spark.cores.max=1 \
        spark_apps/monitor_model.py --since 2026-11-30T04:00:00Z --until 2026-12-01T04:00:00Z

Reads the window's predictions from HDFS ``/user/predictions`` (only the batch files written
since the window began: Spark's ``modifiedAfter``), and compares them with the serving model's
reference profile (its training rows, kept in its registry record):
- drift: PSI per feature (flightdelay.monitoring.drift), and the predicted-class mix against the
  training labels;
- latency p50/p95/p99 from each prediction's RequestProducedAt and ScoredAt;
- volume: requests and dead letters on Kafka in the window (from offsets), predictions made;
- live accuracy per model version, where the requested flight is in the history (requests for
  past dates have known outcomes).
The report goes to MongoDB ``model_monitoring`` (``_id`` = the window's end) and to HDFS
``/monitoring/<end>.json``. The DAG (flight_delay_monitoring) publishes it and asks for a retrain
on drift.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timedelta, timezone

from pymongo import MongoClient
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, StringType, StructField, StructType

from flightdelay.flights.labels import DELAY_SPLITS
from flightdelay.model.registry import ModelRegistry
from flightdelay.monitoring import spark_stats
from flightdelay.monitoring.drift import drift_verdict, level, psi, shares
from flightdelay.monitoring.report import MonitoringStore, hdfs_report_path, records_between, report_id
from flightdelay.settings import get_settings
from flightdelay.store.queries import flights_on

PREDICTION_SCHEMA = StructType(
    [StructField(name, StringType()) for name in ("UUID", "Carrier", "Origin", "Dest", "FlightDate", "FlightNum")]
    + [StructField(name, DoubleType()) for name in ("DepDelay", "Distance", "Prediction")]
    + [StructField(name, StringType()) for name in ("ModelVersion", "RequestProducedAt", "ScoredAt")]
)
# a batch file is written shortly after its predictions were scored: files modified this long
# after the window's end may still hold some of its predictions
FILE_WRITE_SLACK = timedelta(minutes=15)
MAX_OUTCOME_DAYS = 400  # flight dates looked up in the history for live accuracy


def log(message: str) -> None:
    print(f"[monitor_model] {message}", flush=True)


def utc(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--since", type=utc, required=True, help="window start, ISO-8601 (UTC without offset)")
    parser.add_argument("--until", type=utc, required=True, help="window end (excluded)")
    parser.add_argument("--threshold", type=float, default=None, help="PSI that counts as drift")
    return parser.parse_args(argv)


def read_window(spark: SparkSession, since: datetime, until: datetime) -> DataFrame:
    """The predictions scored in [since, until), one per UUID."""
    settings = get_settings()
    stamp = "%Y-%m-%dT%H:%M:%S"  # read in the session's time zone: UTC
    frame = (
        spark.read.schema(PREDICTION_SCHEMA)
        .option("pathGlobFilter", "*.jsonl")
        .option("modifiedAfter", since.astimezone(timezone.utc).strftime(stamp))
        .option("modifiedBefore", (until + FILE_WRITE_SLACK).astimezone(timezone.utc).strftime(stamp))
        .json(f"{settings.hdfs_uri}{settings.hdfs_predictions_path}")
    )
    scored = F.to_timestamp("ScoredAt")
    return frame.where((scored >= F.lit(since)) & (scored < F.lit(until))).dropDuplicates(["UUID"])


def flight_outcomes(spark: SparkSession, window: DataFrame, db) -> DataFrame | None:
    """The history's flights on the window's requested dates, with their delay class; one
    indexed look-up per date (FlightDate equality)."""
    settings = get_settings()
    dates = [r["FlightDate"] for r in window.select("FlightDate").distinct().limit(MAX_OUTCOME_DAYS).collect()]
    fields = {name: 1 for name in (*spark_stats.FLIGHT_KEYS, "DepDelay", "ArrDelay")} | {"_id": 0}
    rows = []
    for day in dates:
        found = db[settings.flights_collection].find(flights_on(day), fields)
        rows += [r for r in found if r.get("ArrDelay") is not None and r.get("DepDelay") is not None]
    log(f"{len(rows):,} flights of the history on {len(dates)} requested dates")
    if not rows:
        return None
    from pyspark.ml.feature import Bucketizer

    keys = spark_stats.FLIGHT_KEYS
    history = spark.createDataFrame(
        [(*(str(r.get(k, "")) for k in keys), float(r["DepDelay"]), float(r["ArrDelay"])) for r in rows],
        schema=[*spark_stats.FLIGHT_KEYS, "DepDelay", "ArrDelay"],
    )
    return Bucketizer(splits=list(DELAY_SPLITS), inputCol="ArrDelay", outputCol="ArrDelayBucket").transform(history)


def write_hdfs(spark: SparkSession, path: str, text: str) -> None:
    """One small file through the driver JVM's HDFS client, replaced when it exists."""
    jvm = spark._jvm
    settings = get_settings()
    fs = jvm.org.apache.hadoop.fs.FileSystem.get(jvm.java.net.URI(settings.hdfs_uri), spark._jsc.hadoopConfiguration())
    stream = fs.create(jvm.org.apache.hadoop.fs.Path(path), True)
    try:
        stream.write(text.encode())
    finally:
        stream.close()


def class_mix(counts: dict, profile: dict) -> dict:
    """The predicted classes' shares against the training labels' (PSI reported, no retrain)."""
    predicted = shares(counts[spark_stats.CLASSES])
    expected = profile.get("classes") or {}
    mix_psi = psi(expected, predicted) if expected and predicted else None
    return {
        "expected": expected,
        "actual": {k: round(v, 4) for k, v in predicted.items()},
        "psi": None if mix_psi is None else round(mix_psi, 4),
        "level": None if mix_psi is None else level(mix_psi),
    }


def monitor(spark: SparkSession, db, serving: dict, args: argparse.Namespace, threshold: float) -> dict:
    """The report of one window (see the module's docstring), with progress on stdout."""
    settings = get_settings()
    started = time.monotonic()

    def progress(message: str) -> None:
        log(f"{message} ({time.monotonic() - started:.1f} s)")

    profile = serving.get("profile") or {}
    window = read_window(spark, args.since, args.until).cache()
    predictions = window.count()
    progress(f"{predictions:,} predictions scored in [{args.since.isoformat()}, {args.until.isoformat()})")
    counts = spark_stats.window_counts(window, profile)
    drifts = spark_stats.window_drift(counts, profile) if predictions else []
    verdict = drift_verdict(drifts, predictions, threshold)
    if not profile:
        verdict["reason"] = f"model {serving['version']} has no reference profile (trained before monitoring)"
    progress(f"drift: {verdict['reason']}")
    latency = spark_stats.latency_ms(window) if predictions else {"rows": 0}
    progress(f"latency {latency}")
    outcomes = flight_outcomes(spark, window, db) if predictions else None
    accuracy = spark_stats.live_accuracy(window, outcomes) if outcomes is not None else []
    progress(f"live accuracy {accuracy}")
    requests = records_between(settings, settings.request_topic, args.since, args.until)
    dead_letters = records_between(settings, settings.dead_letter_topic, args.since, args.until)
    key = report_id(args.until)
    return {
        "_id": key,
        "since": args.since.isoformat(),
        "until": args.until.isoformat(),
        "made_at": datetime.now(timezone.utc).isoformat(),
        "model": {"serving": serving["version"], "versions_seen": counts[spark_stats.VERSIONS]},
        "volume": {
            "requests": requests,
            "predictions": predictions,
            "dead_letters": dead_letters,
            "dead_letter_rate": round(dead_letters / requests, 4) if requests else 0.0,
        },
        "latency_ms": latency,
        "drift": {**verdict, "features": [d.as_dict() for d in drifts]},
        "class_mix": class_mix(counts, profile),
        "live_accuracy": accuracy,
        "hdfs_path": hdfs_report_path(settings, key),
        "seconds": round(time.monotonic() - started, 1),
    }


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    settings = get_settings()
    threshold = args.threshold if args.threshold is not None else settings.monitor_psi_threshold
    spark = (
        SparkSession.builder.appName(f"monitor_model {report_id(args.until)}")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    with MongoClient(settings.mongo_uri) as client:
        db = client[settings.mongo_database]
        serving = ModelRegistry(db, settings).current()
        if serving is None:
            raise SystemExit("no promoted model: nothing to monitor (run flight_delay_training first)")
        report = monitor(spark, db, serving, args, threshold)
        write_hdfs(spark, report["hdfs_path"], json.dumps(report, indent=1))
        MonitoringStore(db, settings.monitoring_collection).save(report)
    drift = report["drift"]
    log(f"report {report['_id']}: drifted={drift['drifted']} ({drift['reason']}) in {report['seconds']} s")
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
