"""Probe (a report, not a feature): does Spark's real-time mode take a scoring plan, and how fast is it?

    .venv/bin/python bench/realtime_probe.py [--seconds 30] [--rate 5] [--partitions 2]

Spark 4.1+ runs a stateless Kafka-to-Kafka query in real-time mode (``trigger(realTime=...)``):
long-running tasks, no micro-batch planning in between. Its allowlist of operators rejects Python
UDFs and ``foreachBatch``, so the platform's scorer (Python parsing and the compiled numpy forest
in ``foreachBatch``) cannot run in it. This probe builds the closest plan that might pass: the
request parsed by ``from_json``, the features computed by SQL expressions, the promoted
PipelineModel's ``transform`` on the JVM, ``to_json`` into a Kafka sink, on its own probe topics
(the platform's topics and the running scorer are left alone). It prints whether Spark accepted
the plan (and its error if not) and, if it did, the produce-to-answer latency at ``--rate``
requests/s: p50 / p99.

Needs the platform (Kafka, HDFS, MongoDB with a promoted model). Runs in a local Spark (``local[N]``,
N = partitions + 1: real-time mode needs a core per source partition at once) beside the platform.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
import uuid

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from flightdelay import kafka_auth
from flightdelay.contract import new_request
from flightdelay.model.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES
from flightdelay.model.registry import ModelRegistry
from flightdelay.ops.spark import kafka_connector_jars
from flightdelay.settings import get_settings

REQUESTS = "probe-realtime-requests"
ANSWERS = "probe-realtime-answers"


def make_topics(settings, partitions: int) -> None:
    admin = AdminClient(kafka_auth.client_config(settings))
    wanted = [NewTopic(t, num_partitions=partitions, replication_factor=1) for t in (REQUESTS, ANSWERS)]
    for topic, future in admin.create_topics(wanted).items():
        try:
            future.result(30)
        except Exception as exc:  # noqa: BLE001 - already there from an earlier probe is fine
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise


def scoring_plan(spark, settings, model_path: str):
    """Kafka -> from_json -> SQL features -> PipelineModel.transform -> to_json -> Kafka."""
    from pyspark.ml import PipelineModel
    from pyspark.sql import functions as F

    fields = "UUID string, Origin string, Dest string, Carrier string, FlightDate string, DepDelay double, " \
             "Distance double"  # fmt: skip
    options = kafka_auth.java_client_options(settings, prefix="kafka.")
    raw = (
        spark.readStream.format("kafka").options(**options)
        .option("subscribe", REQUESTS).option("startingOffsets", "latest").load()
    )  # fmt: skip
    request = raw.select(F.from_json(F.col("value").cast("string"), fields).alias("r")).select("r.*")
    day = F.to_date("FlightDate")
    features = request.select(
        "UUID", "Origin", "Dest", "Carrier",
        F.concat_ws("-", "Origin", "Dest").alias("Route"),
        F.col("DepDelay"),
        F.coalesce("Distance", F.lit(0.0)).alias("Distance"),  # the scorer's route table is a lookup
        F.dayofmonth(day).cast("double").alias("DayOfMonth"),
        ((F.dayofweek(day) + 5) % 7 + 1).cast("double").alias("DayOfWeek"),  # 1 = Monday
        F.dayofyear(day).cast("double").alias("DayOfYear"),
    )  # fmt: skip
    assert set(CATEGORICAL_FEATURES) | set(NUMERIC_FEATURES) <= set(features.columns)
    scored = PipelineModel.load(model_path).transform(features)
    return scored.select(
        F.col("UUID").alias("key"),
        F.to_json(F.struct("UUID", "Prediction")).alias("value"),
    )


def measure(settings, rate: float, seconds: float) -> list[float]:
    """Produce probe requests at ``rate`` for ``seconds``; the latency (ms) of each answer."""
    arrived: dict[str, float] = {}
    consumer = Consumer({**kafka_auth.client_config(settings), "group.id": f"probe-{uuid.uuid4()}",
                         "auto.offset.reset": "latest", "fetch.wait.max.ms": 10})  # fmt: skip
    consumer.subscribe([ANSWERS])
    stop = threading.Event()

    def follow() -> None:
        while not stop.is_set():
            for msg in consumer.consume(100, timeout=0.05):
                if not msg.error() and msg.key():
                    arrived.setdefault(msg.key().decode(), time.perf_counter())

    while not consumer.assignment():
        consumer.poll(0.2)
    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    producer = Producer({**kafka_auth.client_config(settings), "linger.ms": 0})
    sent: dict[str, float] = {}
    for i in range(int(rate * seconds)):
        message = new_request({"Origin": "JFK", "Dest": "LAX", "Carrier": "AA", "FlightDate": "2013-06-03",
                               "DepDelay": i % 60 - 10, "Distance": 2475.0})  # fmt: skip
        sent[message["UUID"]] = time.perf_counter()
        producer.produce(REQUESTS, key=message["UUID"], value=json.dumps(message))
        producer.poll(0)
        time.sleep(1 / rate)
    producer.flush(10)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(arrived) < len(sent):
        time.sleep(0.1)
    stop.set()
    thread.join(5)
    consumer.close()
    return sorted((arrived[u] - t) * 1000 for u, t in sent.items() if u in arrived)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--rate", type=float, default=5)
    parser.add_argument("--partitions", type=int, default=2)
    parser.add_argument("--batch-duration", default="5 minutes", help="real-time mode's checkpoint interval")
    args = parser.parse_args(argv)
    settings = get_settings()
    from pymongo import MongoClient
    from pyspark.sql import SparkSession

    with MongoClient(settings.mongo_uri) as client:
        current = ModelRegistry(client[settings.mongo_database], settings).current()
    if current is None:
        print("no promoted model: run the training DAG first")
        return 1
    make_topics(settings, args.partitions)
    spark = (
        SparkSession.builder.master(f"local[{args.partitions + 1}]").appName("realtime-probe")
        .config("spark.jars", ",".join(kafka_connector_jars(settings)))
        .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "1")
        .getOrCreate()
    )  # fmt: skip
    checkpoint = tempfile.mkdtemp(prefix="realtime-probe-")
    try:
        plan = scoring_plan(spark, settings, current["path"])
        try:
            query = (
                plan.writeStream.format("kafka").options(**kafka_auth.java_client_options(settings, prefix="kafka."))
                .option("topic", ANSWERS).option("checkpointLocation", checkpoint)
                .outputMode("update").trigger(realTime=args.batch_duration).start()
            )  # fmt: skip
            time.sleep(10)  # the long-running tasks start
            if query.exception() is not None:
                raise RuntimeError(str(query.exception()))
        except Exception as exc:  # noqa: BLE001 - the refusal is the probe's answer
            print(f"real-time mode refused the plan (model {current['version']}):\n  {str(exc)[:2000]}")
            return 0
        print(f"real-time mode accepted the plan (model {current['version']}); measuring at {args.rate}/s")
        latencies = measure(settings, args.rate, args.seconds)
        query.stop()
        if not latencies:
            print("no answers arrived")
            return 0
        p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]  # noqa: E731
        print(f"{len(latencies)} answers: p50 {p(0.5):,.0f} ms, p99 {p(0.99):,.0f} ms")
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
