"""The feature pipeline on a tiny DataFrame in a local Spark (no cluster): one PipelineModel that
indexes categories itself, keeps unseen ones, and labels with the Bucketizer edges."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


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


def test_the_forest_takes_every_param(spark):
    from flightdelay.model.features import ForestParams, build_pipeline

    forest = build_pipeline(ForestParams(num_trees=100, max_depth=16, min_rows_per_leaf=20), 40).getStages()[-1]
    chosen = (forest.getNumTrees(), forest.getMaxDepth(), forest.getMinInstancesPerNode(), forest.getMaxBins())
    assert chosen == (100, 16, 20, 41)


def synthetic_rows(count: int, seed: int = 3):
    """Flights whose delay depends on carrier, route and departure delay, so that the forest
    splits on categories and thresholds."""
    import random

    rng = random.Random(seed)
    carriers, airports = ["AA", "B6", "UA", "DL", "WN"], ["JFK", "LGA", "EWR", "BOS", "ORD", "ATL", "SFO"]
    rows = []
    for _ in range(count):
        origin, dest = rng.sample(airports, 2)
        carrier = rng.choice(carriers)
        dep = rng.uniform(-20, 120)
        arr = dep + (25 if carrier in ("B6", "WN") else -10) + (15 if dest in ("ORD", "SFO") else 0) + rng.gauss(0, 10)
        rows.append((carrier, origin, dest, dep, rng.uniform(150, 2600), rng.randint(1, 28), rng.randint(1, 7), rng.randint(1, 365), arr))
    return rows


@pytest.fixture(scope="module")
def fitted(spark):
    from flightdelay.model.features import ForestParams, add_label, build_pipeline, max_categories

    train = add_label(frame(spark, synthetic_rows(600)))
    return build_pipeline(ForestParams(num_trees=8, max_depth=5), max_categories(train)).fit(train)


def test_numpy_scoring_equals_transform_on_probing_and_unseen_rows(spark, fitted):
    from flightdelay.model.compiled import compile_pipeline, probe_rows
    from flightdelay.scoring.serving import differences, spark_predictor

    compiled = compile_pipeline(fitted)
    assert any((t.left_set >= 0).any() for t in compiled.trees), "the test forest has no categorical split"
    rows = probe_rows(compiled) + [
        {"Carrier": c, "Origin": o, "Dest": d, "Route": f"{o}-{d}", "DepDelay": dep, "Distance": dist,
         "DayOfMonth": float(dom), "DayOfWeek": float(dow), "DayOfYear": float(doy)}
        for c, o, d, dep, dist, dom, dow, doy, _ in synthetic_rows(200, seed=9)
    ] + [{"Carrier": "ZZ", "Origin": "XXX", "Dest": "YYY", "Route": "XXX-YYY", "DepDelay": 5.0,
          "Distance": 500.0, "DayOfMonth": 7.0, "DayOfWeek": 1.0, "DayOfYear": 7.0}]  # fmt: skip
    assert differences(compiled.predict(rows), spark_predictor(spark, fitted)(rows), rows) == []


def test_a_compiled_model_that_disagrees_is_not_served(spark, fitted, monkeypatch):
    import dataclasses

    from flightdelay.model import compiled as compiled_module
    from flightdelay.scoring import serving

    real = compiled_module.compile_pipeline(fitted)
    broken_tree = dataclasses.replace(real.trees[0], threshold=real.trees[0].threshold + 7.5)
    broken = dataclasses.replace(real, trees=(broken_tree, *real.trees[1:]))
    monkeypatch.setattr(serving, "compile_pipeline", lambda *_: broken)
    messages = []
    assert serving.serving_model(spark, "v-broken", fitted, log=messages.append).engine == "spark"
    assert "differs" in messages[0]
    # the real compiler serves a faithful model
    monkeypatch.setattr(serving, "compile_pipeline", compiled_module.compile_pipeline)
    assert serving.serving_model(spark, "v-ok", fitted, log=messages.append).engine == "numpy"


def test_a_saved_forest_compiles_from_its_data_as_from_the_jvm(spark, fitted, tmp_path):
    import numpy as np

    from flightdelay.model.compiled import compile_pipeline, probe_rows

    fitted.write().overwrite().save(str(tmp_path / "model"))
    from_jvm = compile_pipeline(fitted)
    from_data = compile_pipeline(fitted, spark, str(tmp_path / "model"))
    assert len(from_data.trees) == len(from_jvm.trees) == 8
    for saved, walked in zip(from_data.trees, from_jvm.trees):
        # the same nodes, numbered the same way (depth first, left before right)
        for field in ("feature", "threshold", "left_set", "left_sets", "left", "right", "leaf_votes"):
            assert np.array_equal(getattr(saved, field), getattr(walked, field), equal_nan=True), field
    rows = probe_rows(from_jvm)
    assert from_data.predict(rows) == from_jvm.predict(rows)
