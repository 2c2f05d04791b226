"""The feature pipeline on a tiny DataFrame in a local Spark (no cluster): one PipelineModel that
indexes categories itself, keeps unseen ones, and labels with the Bucketizer edges."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[1]")
        .appName("unit-pipeline")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .getOrCreate()
    )
    yield session
    session.stop()


ROWS = [
    # Carrier, Origin, Dest, DepDelay, Distance, DayOfMonth, DayOfWeek, DayOfYear, ArrDelay
    ("AA", "JFK", "LAX", -5.0, 2475.0, 1, 2, 1, -20.0),
    ("AA", "JFK", "LAX", 0.0, 2475.0, 2, 3, 2, -15.0),
    ("B6", "JFK", "BOS", 10.0, 187.0, 3, 4, 3, 0.0),
    ("B6", "LGA", "BOS", 40.0, 184.0, 4, 5, 4, 29.9),
    ("UA", "EWR", "SFO", 60.0, 2565.0, 5, 6, 5, 30.0),
    ("UA", "EWR", "SFO", 90.0, 2565.0, 6, 7, 6, 95.0),
]
COLUMNS = ["Carrier", "Origin", "Dest", "DepDelay", "Distance", "DayOfMonth", "DayOfWeek", "DayOfYear", "ArrDelay"]


def frame(spark, rows):
    from pyspark.sql import functions as F

    return spark.createDataFrame(rows, COLUMNS).withColumn("Route", F.concat_ws("-", "Origin", "Dest"))


def test_label_uses_bucketizer_edges(spark):
    from flightdelay.model.features import LABEL_COLUMN, add_label

    labels = [r[LABEL_COLUMN] for r in add_label(frame(spark, ROWS)).orderBy("DayOfYear").collect()]
    assert labels == [0.0, 1.0, 2.0, 2.0, 3.0, 3.0]


def test_one_pipeline_model_scores_known_and_unseen_categories(spark, tmp_path):
    from pyspark.ml import PipelineModel

    from flightdelay.model.features import ForestParams, add_label, build_pipeline, max_categories

    train = add_label(frame(spark, ROWS))
    model = build_pipeline(ForestParams(num_trees=3, max_depth=3), max_categories(train)).fit(train)
    model.write().overwrite().save(str(tmp_path / "model"))
    loaded = PipelineModel.load(str(tmp_path / "model"))

    unseen = frame(spark, [("ZZ", "XXX", "YYY", 5.0, 500.0, 7, 1, 7, 0.0)]).drop("ArrDelay")
    scored = loaded.transform(unseen).first()
    assert 0.0 <= scored["Prediction"] <= 3.0
    assert len(scored["Probability"]) == 4
    assert abs(sum(scored["Probability"]) - 1.0) < 1e-6
    # the saved model carries the indexers: the same row scores the same before and after saving
    again = model.transform(unseen).first()
    assert list(again["Probability"]) == pytest.approx(list(scored["Probability"]))
