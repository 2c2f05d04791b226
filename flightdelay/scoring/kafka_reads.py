"""How the scorer reads requests from Kafka: each micro-batch's records, and a warm-up read.

A new scorer gets a new executor JVM. Its first Kafka read (class loading, the consumer's login,
compiling the read plan) took ~5.5 s of the first micro-batch, which is the answer gap after a
restart. ``warm_up_executor`` pays that with one small batch read of the newest request while the
streaming query is still starting. Once warm, a new executor without a class archive writes one
(``record_executor_classes``): the next executor maps it and starts in about half the time.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

from confluent_kafka import Consumer, TopicPartition
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from flightdelay import kafka_auth
from flightdelay.contract import MAX_MESSAGE_BYTES
from flightdelay.scoring.recovery import first_line
from flightdelay.settings import Settings


def read_records(batch: DataFrame) -> list[tuple]:
    """(value, size, produced_us, topic, partition, offset) of every record of the micro-batch.

    ``value`` is at most the first MAX_MESSAGE_BYTES bytes, cut by the executors: a request over
    the limit is refused by its ``size`` alone, and never has to fit in the driver whole.
    As Arrow: the executors encode columns and the driver only forwards them, where collect()
    had the driver JVM pickle each row (2x the wall time and 9x the Python CPU for 20,000 rows)."""
    table = batch.select(*record_columns()).toArrow()
    return list(zip(*(column.to_pylist() for column in table.columns)))


def record_columns() -> list:
    """The columns of a record (see read_records), computed by the executors from Kafka's."""
    return [
        F.substring("value", 1, MAX_MESSAGE_BYTES).alias("value"),
        F.length("value").alias("size"),
        F.unix_micros("timestamp").alias("produced_us"),
        "topic",
        "partition",
        "offset",
    ]


def newest_offset(settings: Settings, topic: str, partition: int = 0, timeout_s: float = 5.0) -> int | None:
    """The offset of the newest record of one partition, or None when it holds none."""
    consumer = Consumer(kafka_auth.client_config(settings, **{"group.id": "score-stream-warm-up"}))
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout_s)
    finally:
        consumer.close()
    return high - 1 if high > low else None


def warm_up_executor(spark: SparkSession, settings: Settings, log: Callable[[str], None]) -> None:
    """Read the request topic's newest record the way every micro-batch does (nothing is scored
    or written). Best effort: a failure only means the first micro-batch pays the warm-up."""
    topic = settings.request_topic
    started = time.monotonic()
    try:
        offset = newest_offset(settings, topic)
        if offset is None:
            return
        frame = (
            spark.read.format("kafka")
            .options(**kafka_auth.java_client_options(settings, prefix="kafka."))
            .option("assign", json.dumps({topic: [0]}))
            .option("startingOffsets", json.dumps({topic: {"0": offset}}))
            .option("endingOffsets", json.dumps({topic: {"0": offset + 1}}))
            .option("failOnDataLoss", "false")
            .load()
        )
        read_records(frame)
        log(f"executor warmed up in {time.monotonic() - started:.1f} s")
    except Exception as exc:  # noqa: BLE001 - the warm-up must never stop the scorer
        log(f"executor warm-up skipped: {first_line(exc, 200)}")


def record_executor_classes(spark: SparkSession, archive: Path, log: Callable[[str], None]) -> None:
    """One task on the executor, which dumps the classes its JVM has loaded to ``archive``. Best
    effort: without it the next executor starts as this one did."""
    started = time.monotonic()
    try:
        answer = spark.sparkContext.parallelize([str(archive)], 1).map(_dump_executor_jvm).collect()[0]
        log(f"executor classes archived in {time.monotonic() - started:.1f} s: {first_line(answer, 200)}")
    except Exception as exc:  # noqa: BLE001 - the archive is an optimisation only
        log(f"executor classes not archived: {first_line(exc, 200)}")


def _dump_executor_jvm(archive: str) -> str:
    """In one of the executor's Python workers: have the executor JVM above it dump its classes."""
    import psutil

    from flightdelay.ops.jvm import dump_classes

    for parent in psutil.Process().parents():
        if any("CoarseGrainedExecutorBackend" in part for part in parent.cmdline()):
            return dump_classes(parent.pid, parent.exe(), Path(archive)) or "done"
    return "no executor JVM above this Python worker"
