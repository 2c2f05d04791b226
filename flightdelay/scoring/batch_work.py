"""What scoring a set of request records means, wherever it runs: in the streaming driver for a
whole small micro-batch (flightdelay.scoring.small_batches, or any batch of a model served by
Spark's transform) or in an executor's task for one partition of a bigger one
(flightdelay.scoring.on_executors).

A record is the tuple ``(value, size, produced_us, topic, partition, offset)`` that
``kafka_reads.read_records`` gives: ``value`` cut to the contract's size limit, ``size`` the
whole message's length, ``produced_us`` Kafka's timestamp in microseconds.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Callable

from flightdelay.contract import prediction_record
from flightdelay.flights.geo import RouteDistances
from flightdelay.scoring.dead_letters import undelivered_letter
from flightdelay.scoring.requests import parse_record
from flightdelay.scoring.serving import ServingModel, predict_each
from flightdelay.scoring.sinks import KafkaSink, Undelivered, dead_letter
from flightdelay.settings import Settings


class PhaseClock:
    """Time spent in each phase of a batch, for the log line and the metrics."""

    def __init__(self):
        self.started = self.mark = time.monotonic()
        self.phases: list[str] = []
        self.laps: list[tuple[str, float]] = []  # (phase, seconds)

    def lap(self, name: str) -> None:
        now = time.monotonic()
        self.phases.append(f"{name} {(now - self.mark) * 1000:.0f}")
        self.laps.append((name, now - self.mark))
        self.mark = now

    def __str__(self) -> str:
        return f"{(time.monotonic() - self.started) * 1000:.0f} ms ({', '.join(self.phases)})"


def parse(record: tuple, distances: RouteDistances) -> dict:
    value, size, produced_us, topic, partition, offset = record
    row = parse_record(value, produced_at(produced_us), distances, size=size)
    row["source"] = f"{topic}:{partition}:{offset}"
    return row


def produced_at(micros: int | None) -> datetime | None:
    return None if micros is None else datetime.fromtimestamp(micros / 1_000_000, tz=timezone.utc)


def newest_produced_us(records: list[tuple]) -> int | None:
    """Kafka's timestamp (µs) of the newest record (None without timestamps)."""
    stamps = [record[2] for record in records if record[2] is not None]
    return max(stamps) if stamps else None


def newest_request_age(records: list[tuple]) -> float | None:
    """Seconds since the newest record of a batch was produced (None without timestamps)."""
    return age_of(newest_produced_us(records))


def age_of(produced_us: int | None) -> float | None:
    """Seconds since a Kafka timestamp (µs); None stays None."""
    return None if produced_us is None else time.time() - produced_us / 1_000_000


def score_records(
    records: list[tuple], model: ServingModel, distances: RouteDistances, clock: PhaseClock
) -> tuple[list[dict], list[dict]]:
    """The contract's Prediction of every record that can be answered, and the parsed rows of
    those that cannot (each with its ``error``), in that order. Laps "parse" and "score"."""
    rows = [parse(record, distances) for record in records]
    valid_rows = [r for r in rows if not r["error"]]
    invalid = [r for r in rows if r["error"]]
    clock.lap("parse")
    scores, unscorable = predict_each(model.predict, valid_rows)
    for row, reason in unscorable:
        row["error"] = reason
        invalid.append(row)
    clock.lap("score")
    scored_at = datetime.now(timezone.utc).isoformat()
    # the completed request with its Warnings, the class and its label, its probabilities, who
    # made it, and its Flags: where the request lies outside what the model learned from
    scope = model.scope
    valid = [
        prediction_record(row, p, probs, model.version, scored_at, scope.flags(row), scope.accuracy)
        for row, (p, probs) in scores
    ]
    return valid, invalid


def send_answers(
    kafka: KafkaSink, settings: Settings, valid: list[dict], invalid: list[dict], log: Callable[[str], None]
) -> int:
    """Predictions to the response topic (key = UUID), the other rows to the dead-letter topic.
    Raises SinkError when Kafka fails (the batch is replayed). Returns how many records were
    skipped: refused by Kafka for what they are, and their note refused too (report_refused)."""
    refused = kafka.send(settings.response_topic, ((p["UUID"], p) for p in valid))
    refused += kafka.send(settings.dead_letter_topic, (dead_letter(r) for r in invalid))
    return report_refused(kafka, settings, refused, log)


def report_refused(kafka: KafkaSink, settings: Settings, refused: list[Undelivered], log: Callable[[str], None]) -> int:
    """Dead-letter a note for each message Kafka refused for what it is (its prediction, if any,
    is in MongoDB and HDFS all the same). A note refused again is logged and counted. Returns how
    many were skipped."""
    if not refused:
        return 0
    log(f"{len(refused)} messages refused by Kafka, e.g. to {refused[0].topic}: {refused[0].error}")
    notes = (undelivered_letter(r.topic, r.key, r.value, r.error) for r in refused)
    lost = kafka.send(settings.dead_letter_topic, notes)
    for r in lost[:3]:
        log(f"skipped a record (key {r.key}): its dead letter was refused too: {r.error}")
    return len(lost)
