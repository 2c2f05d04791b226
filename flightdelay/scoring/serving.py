"""A promoted model version made ready to score request rows in the streaming driver.

Each version is loaded once (off the batch's critical path, see model_holder) and compiled to
numpy (flightdelay.model.compiled). Before the compiled form is trusted it must give exactly
what ``PipelineModel.transform`` gives on probing rows that reach both sides of every split;
if it does not, or the pipeline has a shape the compiler does not know, the version is served
by ``transform`` itself: slower, never different.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from flightdelay.model.compiled import CompiledForest, Unsupported, compile_pipeline, probe_rows
from flightdelay.model.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES
from flightdelay.model.scope import ModelScope

Scores = list[tuple[float, list[float]]]


@dataclass(frozen=True)
class ServingModel:
    version: str
    engine: str  # "numpy" (compiled and checked) or "spark" (PipelineModel.transform)
    predict: Callable[[Sequence[Mapping[str, Any]]], Scores]
    compiled: CompiledForest | None = None  # the checked numpy form, kept for a fast restart
    scope: ModelScope = field(default_factory=ModelScope)  # what it learned from (Flags)


def compiled_labels(compiled: CompiledForest) -> dict[str, list[str]]:
    """The training values of each categorical column, from a compiled model's indexers."""
    return {indexer.column: list(indexer.index) for indexer in compiled.indexers}


def pipeline_labels(model: Any) -> dict[str, list[str]]:
    """The same from a PipelineModel's StringIndexerModel stages."""
    return {stage.getInputCol(): list(stage.labels) for stage in model.stages if hasattr(stage, "labels")}


def checked_compiled_model(version: str, compiled: CompiledForest) -> ServingModel:
    """A version whose compiled form was checked against Spark before (compiled_cache)."""
    return ServingModel(version, "numpy", compiled.predict, compiled)


def spark_predictor(spark: Any, model: Any) -> Callable[[Sequence[Mapping[str, Any]]], Scores]:
    """Score rows with PipelineModel.transform on the cluster, in the rows' order."""

    def predict(rows: Sequence[Mapping[str, Any]]) -> Scores:
        from pyspark.ml.functions import vector_to_array
        from pyspark.sql import types as T

        if not rows:
            return []
        schema = T.StructType(
            [T.StructField("_row", T.LongType())]
            + [T.StructField(c, T.StringType()) for c in CATEGORICAL_FEATURES]
            + [T.StructField(c, T.DoubleType()) for c in NUMERIC_FEATURES]
        )
        data = [
            (i, *(row.get(c) for c in CATEGORICAL_FEATURES), *(float(row[c]) for c in NUMERIC_FEATURES))
            for i, row in enumerate(rows)
        ]
        scored = model.transform(spark.createDataFrame(data, schema)).select(
            "_row", "Prediction", vector_to_array("Probability").alias("Probability")
        )
        ordered = sorted(scored.collect(), key=lambda r: r["_row"])
        return [(float(r["Prediction"]), list(r["Probability"])) for r in ordered]

    return predict


def differences(compiled: Scores, reference: Scores, rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Where two scorings of the same rows disagree (at most five, described)."""
    found = []
    for row, (p1, probs1), (p2, probs2) in zip(rows, compiled, reference):
        if p1 != p2 or any(abs(a - b) > 1e-12 for a, b in zip(probs1, probs2)):
            found.append(f"{dict(row)}: numpy {p1} {probs1} vs spark {p2} {probs2}")
    if len(compiled) != len(reference):
        found.append(f"{len(compiled)} numpy scores vs {len(reference)} spark scores")
    return found[:5]


def serving_model(
    spark: Any, version: str, model: Any, log: Callable[[str], None] = print, saved_at: str | None = None
) -> ServingModel:
    """The fastest faithful way to serve a loaded PipelineModel (``saved_at``: where it was
    saved, the quick way to its trees)."""
    reference = spark_predictor(spark, model)
    try:
        compiled: CompiledForest = compile_pipeline(model, spark, saved_at)
    except Unsupported as exc:
        log(f"model {version}: served by Spark transform ({exc})")
        return ServingModel(version, "spark", reference)
    rows = probe_rows(compiled)
    mismatches = differences(compiled.predict(rows), reference(rows), rows)
    if mismatches:
        log(f"model {version}: numpy scoring differs from Spark, served by Spark transform: {mismatches}")
        return ServingModel(version, "spark", reference)
    log(f"model {version}: numpy scoring matches Spark on {len(rows)} probing rows")
    return checked_compiled_model(version, compiled)


# a row the model cannot score because of its values; any other error (the cluster, HDFS) is the
# batch's, which is then replayed
ROW_ERRORS = (ValueError, TypeError, KeyError, IndexError, ArithmeticError)


def predict_each(
    predict: Callable[[Sequence[Mapping[str, Any]]], Scores], rows: Sequence[Mapping[str, Any]]
) -> tuple[list[tuple[Mapping[str, Any], tuple[float, list[float]]]], list[tuple[Mapping[str, Any], str]]]:
    """(row, score) for the rows that can be scored and (row, why) for those that cannot: the
    whole batch at once, and row by row only if that fails, so one bad row spares the others."""
    try:
        return list(zip(rows, predict(rows))), []
    except ROW_ERRORS:
        pass
    scored, failed = [], []
    for row in rows:
        try:
            scored.append((row, predict([row])[0]))
        except ROW_ERRORS as exc:
            failed.append((row, f"cannot be scored: {type(exc).__name__}: {exc}"))
    return scored, failed
