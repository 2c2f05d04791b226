"""The one feature pipeline that training fits and serving applies, saved as ONE PipelineModel.

The seed indexed Carrier/Origin/Dest/Route at training time only, so serving fed NaN to the forest;
here the indexers are stages of the saved model, and unseen values get their own index
(handleInvalid="keep") instead of failing the request.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from flightdelay.flights.labels import DELAY_SPLITS

CATEGORICAL_FEATURES = ("Carrier", "Origin", "Dest", "Route")
NUMERIC_FEATURES = ("DepDelay", "Distance", "DayOfMonth", "DayOfWeek", "DayOfYear")
LABEL_COLUMN = "ArrDelayBucket"


@dataclass(frozen=True)
class ForestParams:
    """RandomForest settings; the book's baseline is 20 trees of depth 5."""

    num_trees: int = 20
    max_depth: int = 5
    min_rows_per_leaf: int = 1  # Spark's minInstancesPerNode
    seed: int = 27

    def as_dict(self) -> dict:
        return asdict(self)


def add_label(frame):
    """ArrDelay bucketed into the four classes (Bucketizer: [split_i, split_i+1))."""
    from pyspark.ml.feature import Bucketizer

    bucketizer = Bucketizer(splits=list(DELAY_SPLITS), inputCol="ArrDelay", outputCol=LABEL_COLUMN)
    return bucketizer.transform(frame)


def max_categories(frame) -> int:
    """The largest number of distinct values of a categorical feature (for maxBins)."""
    from pyspark.sql import functions as F

    row = frame.agg(*(F.countDistinct(c).alias(c) for c in CATEGORICAL_FEATURES)).first()
    return max(int(row[c]) for c in CATEGORICAL_FEATURES)


def build_pipeline(params: ForestParams, max_bins: int):
    """Indexers (unseen values kept), an assembler and the forest: one Pipeline to fit."""
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import RandomForestClassifier
    from pyspark.ml.feature import StringIndexer, VectorAssembler

    indexers = [
        StringIndexer(inputCol=c, outputCol=f"{c}_index", handleInvalid="keep") for c in CATEGORICAL_FEATURES
    ]
    assembler = VectorAssembler(
        inputCols=[*NUMERIC_FEATURES, *(f"{c}_index" for c in CATEGORICAL_FEATURES)],
        outputCol="Features_vec",
        handleInvalid="error",
    )
    forest = RandomForestClassifier(
        featuresCol="Features_vec",
        labelCol=LABEL_COLUMN,
        predictionCol="Prediction",
        probabilityCol="Probability",
        numTrees=params.num_trees,
        maxDepth=params.max_depth,
        minInstancesPerNode=params.min_rows_per_leaf,
        # the indexers' "unseen" bucket adds one category to each feature
        maxBins=max(32, max_bins + 1),
        seed=params.seed,
    )
    return Pipeline(stages=[*indexers, assembler, forest])
