"""Train a RandomForest delay model on the Spark cluster and register it as a new version.

    spark-submit --master spark://127.0.0.1:7077 --conf spark.cores.max=2 \
        spark_apps/train_model.py --version v20261127T063512Z [--num-trees 20 --max-depth 5 --min-rows-per-leaf 1]

Extract: the history from MongoDB (on_time_performance). Transform: label = ArrDelay bucketed
with [-inf, -15, 0, 30, +inf]; hold out the latest weeks (a time-based split, never the training
rows); fit ONE PipelineModel (indexers + assembler + forest). Load: the model to HDFS
``/models/flight_delay/<version>/model`` and a ``candidate`` record, with held-out metrics and the
current model's metrics on the same window, to the model registry. The promotion gate
(flightdelay.model.registry.gate) runs after, in the training DAG.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, timedelta

import pandas as pd
from pymongo import MongoClient
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from flightdelay.model.features import CATEGORICAL_FEATURES, LABEL_COLUMN, NUMERIC_FEATURES, ForestParams
from flightdelay.model.features import add_label, build_pipeline, max_categories
from flightdelay.model.metrics import classification_metrics, confusion_matrix
from flightdelay.model.registry import ModelRegistry, model_path, new_version
from flightdelay.monitoring.spark_stats import reference_profile
from flightdelay.settings import get_settings
from flightdelay.store.bulk import read_fields

FIELDS = ("FlightDate", *CATEGORICAL_FEATURES, *NUMERIC_FEATURES, "ArrDelay")


def log(message: str) -> None:
    print(f"[train_model] {message}", flush=True)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", default=None, help="registry version (default: from the clock)")
    parser.add_argument("--num-trees", type=int, default=ForestParams.num_trees)
    parser.add_argument("--max-depth", type=int, default=ForestParams.max_depth)
    parser.add_argument("--min-rows-per-leaf", type=int, default=ForestParams.min_rows_per_leaf)
    parser.add_argument("--holdout-weeks", type=int, default=4, help="the latest weeks held out for scoring")
    parser.add_argument("--batch-size", type=int, default=50_000, help="rows per MongoDB read batch")
    return parser.parse_args(argv)


def extract(spark: SparkSession, batch_size: int) -> DataFrame:
    """Read the history from MongoDB in batches into a Spark DataFrame."""
    settings = get_settings()
    frames = []
    with MongoClient(settings.mongo_uri) as client:
        # a whole-collection read: straight from FerretDB's table when it is on PostgreSQL
        cursor = read_fields(client[settings.mongo_database], settings, settings.flights_collection, FIELDS)
        rows: list[dict] = []
        for doc in cursor:
            rows.append(doc)
            if len(rows) >= batch_size:
                frames.append(pd.DataFrame.from_records(rows, columns=FIELDS))
                log(f"read {sum(len(f) for f in frames):,} flights from MongoDB")
                rows = []
        if rows:
            frames.append(pd.DataFrame.from_records(rows, columns=FIELDS))
    if not frames:
        raise SystemExit("no flights in MongoDB: run the flight_data_import DAG (or `flightdelay import`) first")
    history = pd.concat(frames, ignore_index=True).dropna(subset=["ArrDelay", *NUMERIC_FEATURES])
    for name in NUMERIC_FEATURES + ("ArrDelay",):
        history[name] = history[name].astype("float64")
    log(f"{len(history):,} flights with an arrival delay")
    return spark.createDataFrame(history).repartition(4)


def time_split(history: DataFrame, holdout_weeks: int) -> tuple[DataFrame, DataFrame, dict]:
    """Train on everything before the latest `holdout_weeks` weeks; score on those weeks."""
    first, last = history.agg(F.min("FlightDate"), F.max("FlightDate")).first()
    holdout_start = (date.fromisoformat(last) - timedelta(weeks=holdout_weeks) + timedelta(days=1)).isoformat()
    train = history.filter(F.col("FlightDate") < holdout_start)
    holdout = history.filter(F.col("FlightDate") >= holdout_start)
    window = {"train_start": first, "train_end": holdout_start, "holdout_start": holdout_start, "holdout_end": last}
    return train, holdout, window


def evaluate(model, holdout: DataFrame) -> dict:
    scored = model.transform(holdout)
    pairs = scored.groupBy(LABEL_COLUMN, "Prediction").count().collect()
    return classification_metrics(confusion_matrix((r[LABEL_COLUMN], r["Prediction"], r["count"]) for r in pairs))


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    version = args.version or new_version()
    params = ForestParams(num_trees=args.num_trees, max_depth=args.max_depth, min_rows_per_leaf=args.min_rows_per_leaf)
    spark = (
        SparkSession.builder.appName(f"train_model {version}")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    started = time.monotonic()
    history = add_label(extract(spark, args.batch_size)).cache()
    train, holdout, window = time_split(history, args.holdout_weeks)
    counts = {"train": train.count(), "holdout": holdout.count()}
    log(f"window {window}, rows {counts}")
    if counts["train"] == 0 or counts["holdout"] == 0:
        raise SystemExit(f"not enough history for a {args.holdout_weeks}-week hold-out: {counts}")

    bins = max_categories(history)
    fit_started = time.monotonic()
    model = build_pipeline(params, bins).fit(train)
    fit_seconds = time.monotonic() - fit_started
    metrics = evaluate(model, holdout)
    log(f"held-out accuracy {metrics['accuracy']}, weighted F1 {metrics['weighted_f1']} (fit {fit_seconds:.1f}s)")
    profile = reference_profile(train, LABEL_COLUMN)  # what monitoring compares requests with

    settings = get_settings()
    with MongoClient(settings.mongo_uri) as client:
        registry = ModelRegistry(client[settings.mongo_database], settings)
        baseline = None
        current = registry.current()
        if current:
            from pyspark.ml import PipelineModel

            current_model = PipelineModel.load(model_path(current["version"], settings))
            baseline = {"version": current["version"], "metrics": evaluate(current_model, holdout)}
            log(f"current {current['version']} on the same window: weighted F1 {baseline['metrics']['weighted_f1']}")

        path = model_path(version, settings)
        model.write().overwrite().save(path)
        record = {
            "version": version,
            "path": path,
            "params": params.as_dict() | {"max_bins": max(32, bins + 1), "holdout_weeks": args.holdout_weeks},
            "features": {"categorical": list(CATEGORICAL_FEATURES), "numeric": list(NUMERIC_FEATURES)},
            "data_window": window,
            "row_counts": counts,
            "metrics": metrics,
            "baseline": baseline,
            "profile": profile,
            "train_seconds": round(fit_seconds, 1),
            "total_seconds": round(time.monotonic() - started, 1),
        }
        registry.register(record)
    log(f"registered {version} at {path}")
    compile_for_the_scorer(spark, version, model, path, settings, current["version"] if current else None)
    spark.stop()
    return 0


def compile_for_the_scorer(
    spark: SparkSession, version: str, model, path: str, settings, served_version: str | None
) -> None:
    """Compile the new version and check it against Spark here, in a warm JVM, into the scorer's
    cache (scoring.compiled_cache): the scorer's first load of it then takes a moment instead of
    ~40 s (loading from HDFS and checking in a cold scorer). Where the scorer's folder is not
    this machine's or not ours (compose), the scorer compiles it itself, as before. The cache's
    pruning spares ``served_version``, the version the scorer answers with now."""
    from flightdelay.scoring import compiled_cache
    from flightdelay.scoring.serving import serving_model

    try:
        started = time.monotonic()
        checked = serving_model(spark, version, model, log, saved_at=path)
        log(f"compiled and checked against Spark in {time.monotonic() - started:.1f}s")
        if checked.compiled is not None:
            saved = compiled_cache.save(settings, version, checked.compiled, spare=served_version)
            log(f"compiled form for the scorer: {saved}")
    except OSError as exc:
        log(f"compiled form not saved for the scorer ({exc}): it compiles {version} itself")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
