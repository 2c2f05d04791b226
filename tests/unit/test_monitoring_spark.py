"""The monitoring's Spark side on small DataFrames in a local Spark: the reference profile, the
window's counts in one pass, latency quantiles and the live-accuracy join."""

from __future__ import annotations

import pytest

from flightdelay.monitoring import spark_stats
from flightdelay.monitoring.drift import OTHER, drift_verdict

pytestmark = pytest.mark.slow

CARRIERS = ["AA", "B6", "UA", "DL"]


def flights(spark, shift: float = 0.0, n: int = 400):
    rows = [
        (CARRIERS[i % 4], "JFK" if i % 3 else "LGA", ["LAX", "BOS", "ORD", "ATL", "SFO"][i % 5],
         float((i * 7) % 120 - 20) + shift, float(200 + (i * 37) % 2400), float(i % 4))
        for i in range(n)
    ]  # fmt: skip
    return spark.createDataFrame(rows, ["Carrier", "Origin", "Dest", "DepDelay", "Distance", "Label"])


def predictions(spark, shift: float = 0.0):
    frame = flights(spark, shift).withColumnRenamed("Label", "Prediction")
    from pyspark.sql import functions as F

    return frame.withColumn("ModelVersion", F.lit("v1"))


def test_the_profile_holds_deciles_shares_and_the_label_mix(spark):
    profile = spark_stats.reference_profile(flights(spark), "Label")
    assert profile["rows"] == 400
    assert len(profile["numeric"]["DepDelay"]["edges"]) == 9
    assert sum(profile["numeric"]["Distance"]["shares"].values()) == pytest.approx(1.0)
    assert profile["categorical"]["Carrier"]["shares"]["AA"] == pytest.approx(0.25)
    assert profile["categorical"]["Carrier"]["shares"][OTHER] == 0.0
    assert profile["classes"] == {"0": 0.25, "1": 0.25, "2": 0.25, "3": 0.25}


def test_the_same_population_is_stable_and_a_shifted_one_drifts(spark):
    profile = spark_stats.reference_profile(flights(spark), "Label")
    same = spark_stats.window_counts(predictions(spark), profile)
    assert same[spark_stats.VERSIONS] == {"v1": 400}
    assert sum(same[spark_stats.CLASSES].values()) == 400
    stable = spark_stats.window_drift(same, profile)
    assert {d.feature for d in stable} == {"DepDelay", "Distance", "Carrier", "Origin", "Dest"}
    assert max(d.psi for d in stable) < 0.01
    shifted = spark_stats.window_drift(spark_stats.window_counts(predictions(spark, shift=150), profile), profile)
    verdict = drift_verdict(shifted, rows=400)
    assert verdict["drifted"] and verdict["features_over"] == ["DepDelay"]


def test_latency_quantiles_from_the_timing_fields(spark):
    rows = [("2026-12-01T10:00:00+00:00", f"2026-12-01T10:00:00.{ms:03d}+00:00") for ms in range(0, 1000, 10)]
    window = spark.createDataFrame(rows, ["RequestProducedAt", "ScoredAt"])
    latency = spark_stats.latency_ms(window)
    assert latency["rows"] == 100
    assert latency["p50"] == pytest.approx(490, abs=10) and latency["p99"] == pytest.approx(980, abs=10)


def test_live_accuracy_matches_by_flight_number_or_by_departure_delay(spark):
    keys = ["FlightDate", "Carrier", "FlightNum", "Origin", "Dest", "DepDelay", "Prediction", "ModelVersion"]
    window = spark.createDataFrame(
        [
            ("2013-01-01", "UA", "1545", "EWR", "IAH", 2.0, 1.0, "v1"),  # by number: right
            ("2013-01-01", "UA", None, "EWR", "IAH", 2.0, 3.0, "v2"),  # by delay: wrong
            ("2013-01-01", "AA", None, "JFK", "LAX", 5.0, 2.0, "v2"),  # two AA flights with delay 5: left out
            ("2013-01-02", "UA", "9999", "EWR", "IAH", 0.0, 2.0, "v1"),  # not in the history
        ],
        keys,
    )
    outcomes = spark.createDataFrame(
        [
            ("2013-01-01", "UA", "1545", "EWR", "IAH", 2.0, 1.0),
            ("2013-01-01", "AA", "33", "JFK", "LAX", 5.0, 2.0),
            ("2013-01-01", "AA", "59", "JFK", "LAX", 5.0, 0.0),
        ],
        ["FlightDate", "Carrier", "FlightNum", "Origin", "Dest", "DepDelay", "ArrDelayBucket"],
    )
    accuracy = spark_stats.live_accuracy(window, outcomes)
    assert accuracy == [
        {"version": "v1", "matched": 1, "correct": 1, "accuracy": 1.0},
        {"version": "v2", "matched": 1, "correct": 0, "accuracy": 0.0},
    ]
