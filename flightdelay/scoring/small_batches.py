"""Small micro-batches read straight from Kafka by the driver, with no Spark job.

A Spark job costs this machine ~100-150 ms whatever its size (planning, closure cleaning, the
task's launch, the Python worker's round trip), which was most of a small batch's time and so
most of a request's latency at a few requests/s. Spark still decides what each batch holds: it
writes the batch's end offsets to its offset log before the batch runs, and the batch before
ends where this one starts. When the batch holds at most ``SCORER_DRIVER_MAX_RECORDS`` records,
the driver reads that offset range itself with a Kafka consumer and scores it; a bigger batch
is a Spark job on the executors (flightdelay.scoring.on_executors). A replay
reads the same offsets, so the sinks keep their meaning. Whatever the direct read cannot do (the
first batch of a new checkpoint, a new partition, Kafka not answering in time) falls back to
Spark's own read of the batch.

A record is the tuple ``(value, size, produced_us, topic, partition, offset)`` of
``kafka_reads.read_records``.
"""

from __future__ import annotations

import json
import time
from typing import Callable

from confluent_kafka import Consumer, TopicPartition

from flightdelay import kafka_auth
from flightdelay.contract import MAX_MESSAGE_BYTES
from flightdelay.settings import Settings

READ_TIMEOUT_S = 5.0  # a direct read that takes longer falls back to Spark's read

OffsetRanges = dict[int, tuple[int, int]]  # partition -> (first offset, offset after the last)


class RecordGap(Exception):
    """The batch's offsets are not all records: Spark's own read of the batch decides."""


def source_offsets(offset_log_entry: str, topic: str) -> dict[int, int] | None:
    """The end offsets of ``topic`` in one file of Spark's offset log (``v1``, the batch's
    metadata, then a JSON line per source), or None if the file does not name the topic."""
    lines = offset_log_entry.splitlines()
    if not lines or not lines[0].startswith("v"):
        return None
    for line in lines[2:]:
        if not line.strip().startswith("{"):
            continue
        offsets = json.loads(line).get(topic)
        if offsets is not None:
            return {int(partition): int(offset) for partition, offset in offsets.items()}
    return None


def batch_ranges(start: dict[int, int] | None, end: dict[int, int] | None) -> OffsetRanges | None:
    """Each partition's range between the batch before's end offsets and this batch's; None when
    they do not name the same partitions (a new partition starts at Spark's own choice)."""
    if start is None or end is None or set(start) != set(end):
        return None
    return {partition: (start[partition], end[partition]) for partition in end}


def record_of(message) -> tuple:
    """A Kafka message as the record ``kafka_reads.record_columns`` makes of it in Spark."""
    value = message.value()
    kind, millis = message.timestamp()
    produced_us = None if kind == 0 else millis * 1000  # 0: TIMESTAMP_NOT_AVAILABLE
    size = None if value is None else len(value)
    cut = None if value is None else value[:MAX_MESSAGE_BYTES]
    return cut, size, produced_us, message.topic(), message.partition(), message.offset()


class SmallBatchReader:
    """Driver side: the offset ranges of a batch from Spark's offset log, and their records."""

    def __init__(self, settings: Settings, read_log_entry: Callable[[int], str | None], max_records: int):
        """``read_log_entry(batch_id)``: the text of that batch's offset log file, or None."""
        self.topic = settings.request_topic
        self.max_records = max_records
        self.read_log_entry = read_log_entry
        self._ends: tuple[int, dict[int, int] | None] | None = None  # the last batch's, read once
        self._settings = settings
        self._consumer: Consumer | None = None  # made at the first read

    @property
    def consumer(self) -> Consumer:
        if self._consumer is None:
            self._consumer = Consumer(
                kafka_auth.client_config(
                    self._settings,
                    **{
                        "group.id": "score-stream-small-batches",  # never commits: Spark keeps the offsets
                        "enable.auto.commit": False,
                        "auto.offset.reset": "earliest",
                        "isolation.level": "read_uncommitted",  # what Spark's consumers read
                        "fetch.wait.max.ms": 10,
                    },
                )
            )
        return self._consumer

    def ranges(self, batch_id: int) -> OffsetRanges | None:
        """The batch's offset ranges if it is small enough to read here, else None."""
        if self.max_records <= 0:
            return None
        start, end = self._end_offsets(batch_id - 1), self._end_offsets(batch_id)
        ranges = batch_ranges(start, end)
        if ranges is None or sum(last - first for first, last in ranges.values()) > self.max_records:
            return None
        return ranges

    def _end_offsets(self, batch_id: int) -> dict[int, int] | None:
        if batch_id < 0:
            return None
        if self._ends is None or self._ends[0] != batch_id:
            text = self.read_log_entry(batch_id)
            self._ends = (batch_id, None if text is None else source_offsets(text, self.topic))
        return self._ends[1]

    def read(self, ranges: OffsetRanges, timeout_s: float = READ_TIMEOUT_S) -> list[tuple]:
        """The records of these ranges, every offset once and in order. Raises RecordGap when an
        offset is missing (a record deleted by retention, a transaction marker: Spark's read
        knows what to do) and TimeoutError if Kafka has not given them all in time."""
        waiting = {partition: last for partition, (first, last) in ranges.items() if last > first}
        following = {partition: ranges[partition][0] for partition in waiting}  # the next offset due
        records: list[tuple] = []
        if not waiting:
            return records
        self.consumer.assign([TopicPartition(self.topic, p, following[p]) for p in waiting])
        deadline = time.monotonic() + timeout_s
        while waiting:
            remaining = sum(last - following[p] for p, last in waiting.items())
            # consume() returns once it has that many messages or the timeout has passed
            for message in self.consumer.consume(remaining, timeout=0.05):
                partition, offset = message.partition(), message.offset()
                if message.error() or not following.get(partition, offset + 1) <= offset < waiting.get(partition, 0):
                    continue  # an error event, a record past the batch or its partition's end, or one taken already
                if offset > following[partition]:
                    raise RecordGap(f"partition {partition}: offset {offset} came where {following[partition]} was due")
                following[partition] = offset + 1
                records.append(record_of(message))
                if following[partition] == waiting[partition]:
                    del waiting[partition]
            # the consumer's position passes an offset that holds no record without a message
            for position in self.consumer.position([TopicPartition(self.topic, p) for p in waiting]):
                due = following[position.partition]
                if position.offset > due:
                    raise RecordGap(f"partition {position.partition}: no record at offset {due}")
            if waiting and time.monotonic() > deadline:
                raise TimeoutError(f"Kafka gave {len(records)} of the batch's records in {timeout_s:.0f} s, not all")
        return records

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
