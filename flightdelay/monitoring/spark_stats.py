"""The monitoring figures computed on the Spark cluster: the executors read, bin and count; only
the counts (a few dozen numbers per feature) come back to the driver, whatever the data's size.

Used by ``spark_apps/train_model.py`` (the reference profile of the training rows) and
``spark_apps/monitor_model.py`` (a window of predictions against that profile).
"""

from __future__ import annotations

from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from flightdelay.monitoring.drift import (
    CATEGORICAL_DRIFT_FEATURES,
    NUMERIC_DRIFT_FEATURES,
    OTHER,
    TOP_VALUES,
    FeatureDrift,
    feature_drift,
    shares,
)

DECILES = [i / 10 for i in range(1, 10)]
LATENCY_QUANTILES = (0.5, 0.95, 0.99)
# the keys a request and a history record share (CRSDepTime is not in a request)
FLIGHT_KEYS = ("FlightDate", "Carrier", "FlightNum", "Origin", "Dest")
# names of the non-feature counts in counts_by's result
LABELS, CLASSES, VERSIONS = "__labels__", "__classes__", "__versions__"


def bin_index(column: Column, edges: list[float]) -> Column:
    """The numeric bin of ``column`` (as drift.numeric_bin): how many inner edges it reaches."""
    reached = [F.when(column >= edge, 1).otherwise(0) for edge in edges]
    return reduce(lambda a, b: a + b, reached, F.lit(0)).cast("string")


def counts_by(frame: DataFrame, columns: dict[str, Column]) -> dict[str, dict[str, int]]:
    """For each named column, how many rows hold each of its values: ONE pass and one shuffle
    for all of them (each row becomes (name, value) pairs), where a groupBy per column would cost
    a Spark job each."""
    named = [F.struct(F.lit(name).alias("name"), c.cast("string").alias("value")) for name, c in columns.items()]
    pairs = F.explode(F.array(*named))
    rows = frame.select(pairs.alias("pair")).groupBy("pair.name", "pair.value").count().collect()
    counts: dict[str, dict[str, int]] = {name: {} for name in columns}
    for row in rows:
        if row["value"] is not None:
            counts[row["name"]][row["value"]] = int(row["count"])
    return counts


def reference_profile(train: DataFrame, label_column: str) -> dict:
    """What the training rows look like, for drift checks later: decile edges and bin shares of
    the numeric features, shares of the top categorical values, and the label mix."""
    quantiles = train.approxQuantile(list(NUMERIC_DRIFT_FEATURES), DECILES, 0.001)
    edges = {f: sorted(set(q)) for f, q in zip(NUMERIC_DRIFT_FEATURES, quantiles)}
    columns = {f: bin_index(F.col(f), edges[f]) for f in NUMERIC_DRIFT_FEATURES}
    columns |= {f: F.col(f) for f in CATEGORICAL_DRIFT_FEATURES}
    counts = counts_by(train, columns | {LABELS: F.col(label_column).cast("int")})
    categorical = {}
    for feature in CATEGORICAL_DRIFT_FEATURES:
        top = dict(sorted(counts[feature].items(), key=lambda kv: -kv[1])[:TOP_VALUES])
        top[OTHER] = sum(counts[feature].values()) - sum(top.values())
        categorical[feature] = {"shares": shares(top)}
    return {
        "rows": sum(counts[LABELS].values()),
        "numeric": {f: {"edges": edges[f], "shares": shares(counts[f])} for f in NUMERIC_DRIFT_FEATURES},
        "categorical": categorical,
        "classes": shares(counts[LABELS]),
    }


def window_counts(window: DataFrame, profile: dict) -> dict[str, dict[str, int]]:
    """The window's requests counted into the profile's bins (each drift feature), its
    predicted classes and the model versions that answered: one Spark job."""
    columns = {}
    for feature, spec in profile.get("numeric", {}).items():
        columns[feature] = bin_index(F.col(feature), spec["edges"])
    for feature, spec in profile.get("categorical", {}).items():
        known = [value for value in spec["shares"] if value != OTHER]
        columns[feature] = F.when(F.col(feature).isin(known), F.col(feature)).otherwise(F.lit(OTHER))
    columns[CLASSES] = F.col("Prediction").cast("int")
    columns[VERSIONS] = F.col("ModelVersion")
    return counts_by(window, columns)


def window_drift(counts: dict[str, dict[str, int]], profile: dict) -> list[FeatureDrift]:
    """Each drift feature of the window (``window_counts``) against the profile's shares."""
    specs = {**profile.get("numeric", {}), **profile.get("categorical", {})}
    return [feature_drift(feature, spec["shares"], counts[feature]) for feature, spec in specs.items()]


def latency_ms(window: DataFrame) -> dict:
    """p50/p95/p99 and max of the time from a request reaching Kafka to its prediction."""
    millis = (
        F.unix_micros(F.to_timestamp("ScoredAt")) - F.unix_micros(F.to_timestamp("RequestProducedAt"))
    ) / 1000.0
    timed = window.select(millis.alias("ms")).where(F.col("ms").isNotNull())
    row = timed.agg(
        F.percentile_approx("ms", list(LATENCY_QUANTILES), 10_000).alias("q"),
        F.max("ms").alias("max"),
        F.count("ms").alias("rows"),
    ).first()
    if not row["rows"]:
        return {"rows": 0}
    p50, p95, p99 = row["q"]
    return {"rows": int(row["rows"]), "p50": p50, "p95": p95, "p99": p99, "max": row["max"]}


def live_accuracy(window: DataFrame, outcomes: DataFrame) -> list[dict]:
    """Per model version: the predictions whose flight is in the history (``outcomes``: the flight
    keys, DepDelay and the label ``ArrDelayBucket``), and how many of them were right. A request
    names its flight by FlightNum, or (FlightNum is optional) by its departure delay among the
    carrier's flights of that day on that route; an ambiguous one is left out."""
    by_number = window.where(F.col("FlightNum").isNotNull()).join(
        outcomes.dropDuplicates(list(FLIGHT_KEYS)), list(FLIGHT_KEYS), "inner"
    )
    by_delay_keys = [k for k in FLIGHT_KEYS if k != "FlightNum"] + ["DepDelay"]
    unique = outcomes.groupBy(by_delay_keys).agg(F.count("*").alias("n"), F.first("ArrDelayBucket").alias("bucket"))
    by_delay = (
        window.where(F.col("FlightNum").isNull())
        .join(unique.where(F.col("n") == 1), by_delay_keys, "inner")
        .withColumnRenamed("bucket", "ArrDelayBucket")
    )
    matched = by_number.select("ModelVersion", "Prediction", "ArrDelayBucket").unionByName(
        by_delay.select("ModelVersion", "Prediction", "ArrDelayBucket")
    )
    right = (F.col("Prediction").cast("int") == F.col("ArrDelayBucket").cast("int")).cast("int")
    rows = matched.groupBy("ModelVersion").agg(F.count("*").alias("matched"), F.sum(right).alias("correct")).collect()
    return sorted(
        (
            {
                "version": r["ModelVersion"],
                "matched": int(r["matched"]),
                "correct": int(r["correct"]),
                "accuracy": round(r["correct"] / r["matched"], 4),
            }
            for r in rows
        ),
        key=lambda r: r["version"],
    )
