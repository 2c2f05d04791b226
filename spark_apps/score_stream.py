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
is swapped between micro-batches when the training DAG promotes a new version.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from pymongo import MongoClient
from pyspark.ml import PipelineModel
from pyspark.ml.functions import vector_to_array
from pyspark.sql import DataFrame, SparkSession

from flightdelay.contract import label_of
from flightdelay.flights.geo import load_airports
from flightdelay.flights.mongo_import import load_known_distances
from flightdelay.model.registry import ModelRegistry, model_path
from flightdelay.scoring.model_holder import ModelHolder
from flightdelay.scoring.requests import PARSED_COLUMNS, PARSED_SCHEMA, parser
from flightdelay.scoring.sinks import HdfsSink, KafkaSink, MongoSink, dead_letter
from flightdelay.settings import get_settings

APP_NAME = "score_stream"
REQUEST_OUTPUT = [c for c in PARSED_COLUMNS if c not in ("error", "payload", "source")]
DISTANCES_REFRESH_SECONDS = 600


def log(message: str) -> None:
    print(f"[score_stream {datetime.now(timezone.utc):%H:%M:%S}] {message}", flush=True)


class Scorer:
    """What one micro-batch does; holds the clients and reference data between batches."""

    def __init__(self, spark: SparkSession, heartbeat: Path | None):
        self.spark = spark
        self.settings = get_settings()
        self.mongo = MongoClient(self.settings.mongo_uri)
        self.db = self.mongo[self.settings.mongo_database]
        self.registry = ModelRegistry(self.db, self.settings)
        self.models = ModelHolder(current_version=self._current_version, load=self._load_model, log=log)
        self.kafka = KafkaSink(self.settings)
        self.predictions = MongoSink(self.settings)
        self.files = HdfsSink(self.settings)
        self.airports = dict(load_airports())
        self.known_distances: dict = {}
        self.distances_loaded_at = 0.0
        self.heartbeat = heartbeat

    def _load_model(self, version: str) -> PipelineModel:
        """Load a version and score one row with it, so its first real batch pays no warm-up."""
        model = PipelineModel.load(model_path(version, self.settings))
        row = {"Carrier": "AA", "Origin": "JFK", "Dest": "LAX", "Route": "JFK-LAX", "DepDelay": 0.0,
               "Distance": 2475.0, "DayOfMonth": 1.0, "DayOfWeek": 1.0, "DayOfYear": 1.0}  # fmt: skip
        model.transform(self.spark.createDataFrame([row])).select("Prediction").collect()
        return model

    def _current_version(self) -> str | None:
        current = self.registry.current()
        return current["version"] if current else None

    def reference_data(self) -> dict:
        if time.monotonic() - self.distances_loaded_at > DISTANCES_REFRESH_SECONDS:
            self.known_distances = load_known_distances(self.db)
            self.distances_loaded_at = time.monotonic()
        return self.known_distances

    def beat(self, **state) -> None:
        if self.heartbeat:
            state["at"] = datetime.now(timezone.utc).isoformat()
            self.heartbeat.write_text(json.dumps(state))

    def score(self, batch: DataFrame, batch_id: int) -> None:
        started = time.monotonic()
        loaded = self.models.get()
        parsed = batch.select("value", "timestamp", "topic", "partition", "offset").mapInPandas(
            parser(self.reference_data(), self.airports), PARSED_SCHEMA
        )
        # Invalid rows ride along with neutral features (the assembler refuses nulls) and are
        # split off after one Spark job, instead of running the batch twice.
        neutral = parsed.fillna({"Carrier": "", "Origin": "", "Dest": "", "Route": ""}).fillna(0.0)
        scored = loaded.model.transform(neutral).select(
            *REQUEST_OUTPUT, "error", "payload", "source", "Prediction",
            vector_to_array("Probability").alias("Probabilities"),
        )  # fmt: skip
        rows = [r.asDict() for r in scored.collect()]
        scored_at = datetime.now(timezone.utc).isoformat()
        valid, invalid = [], []
        for row in rows:
            if row["error"]:
                invalid.append(row)
                continue
            prediction = {k: row[k] for k in REQUEST_OUTPUT if row[k] is not None}
            prediction.update(
                Prediction=float(row["Prediction"]),
                PredictionLabel=label_of(row["Prediction"]),
                Probabilities=[round(p, 6) for p in row["Probabilities"]],
                ModelVersion=loaded.version,
                ScoredAt=scored_at,
            )
            valid.append(prediction)

        # the response topic first: it is what a waiting user sees. If a later sink fails, the
        # batch is replayed and the responses sent again (at-least-once, keyed by UUID).
        self.kafka.send(self.settings.response_topic, ((p["UUID"], p) for p in valid))
        self.kafka.send(self.settings.dead_letter_topic, (dead_letter(r) for r in invalid))
        self.predictions.insert(valid)
        self.files.write_batch(batch_id, valid)
        seconds = time.monotonic() - started
        log(f"batch {batch_id}: {len(valid)} scored, {len(invalid)} dead-lettered, model {loaded.version}, {seconds:.2f}s")
        self.beat(state="running", batch_id=batch_id, model=loaded.version, scored=len(valid))


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser_ = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser_.add_argument("--max-offsets-per-trigger", type=int, default=20_000)
    parser_.add_argument("--trigger-seconds", type=float, default=0.0, help="0: start the next batch at once")
    parser_.add_argument("--heartbeat", type=Path, default=None, help="a file updated after every batch")
    return parser_.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    settings = get_settings()
    spark = (
        SparkSession.builder.appName(APP_NAME)
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "10000")
        .getOrCreate()
    )
    scorer = Scorer(spark, args.heartbeat)
    scorer.beat(state="waiting for a model")
    loaded = scorer.models.wait_for_model()
    log(f"scoring with model {loaded.version}")
    scorer.models.start()

    requests = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", settings.kafka_bootstrap)
        .option("subscribe", settings.request_topic)
        .option("startingOffsets", "earliest")  # first start only; then the checkpoint decides
        .option("failOnDataLoss", "false")
        .option("maxOffsetsPerTrigger", args.max_offsets_per_trigger)
        .load()
    )
    writer = (
        requests.writeStream.queryName(APP_NAME)
        .foreachBatch(scorer.score)
        .option("checkpointLocation", f"{settings.hdfs_uri}{settings.hdfs_checkpoints_path}/{APP_NAME}")
    )
    if args.trigger_seconds > 0:
        writer = writer.trigger(processingTime=f"{args.trigger_seconds} seconds")
    query = writer.start()
    scorer.beat(state="running", model=loaded.version)
    log(f"query {query.id} started on {settings.request_topic}")
    query.awaitTermination()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
