"""Scoring in the executors' tasks: each micro-batch bigger than SCORER_DRIVER_MAX_RECORDS is one
Spark job (a smaller one is scored by the driver: flightdelay.scoring.small_batches).

The driver plans the batch, ships what the tasks need, collects one small summary row per task
and lets Spark commit. Each task takes one Kafka partition's records of the batch, parses and
scores them with the compiled model, and writes its own results:
- the response topic (key = UUID) and the dead-letter topic, as the driver would;
- MongoDB, each prediction once (``_id`` = UUID: a replayed task's rows are skipped);
- HDFS, one JSON Lines file per batch and task, staged under the incoming folder and renamed
  into place (a replayed task replaces its own file), through WebHDFS.

A batch has one task per executor core (the Kafka partitions coalesced): each task costs a round
trip to the Python worker, a Kafka flush, a MongoDB statement and an HDFS file, whatever its size,
and tasks beyond the cores would only queue. A replayed batch is always the first of a query
(re)start; the driver clears that batch's files before it runs (sinks.HdfsSink.clear_batch), so a
replay with another number of tasks, or by the driver's path, leaves no second copy.

What is shipped, once: the compiled model per version and the route-distance table per read,
as broadcast variables. The executor's Python worker keeps the unpacked model, the distances
and its clients (Kafka producer, MongoDB and WebHDFS) between tasks: Spark reuses the worker.

A task that fails (Kafka or HDFS down) is retried by Spark, then fails the batch, which is
replayed after the query restarts, as in the driver's path; MongoDB outages are waited out in
the task (sinks.MongoSink).
"""

from __future__ import annotations

import os
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterator, Mapping

import orjson

from flightdelay.flights.geo import RouteDistances, load_airports
from flightdelay.model.compiled import CompiledForest
from flightdelay.model.scope import ModelScope
from flightdelay.scoring.batch_work import PhaseClock, newest_produced_us, score_records, send_answers
from flightdelay.scoring.serving import ServingModel, checked_compiled_model
from flightdelay.scoring.sinks import AS_SORTED_JSON, KafkaSink, MongoSink, SinkError, incoming_folder
from flightdelay.settings import Settings

#: one row per task: what the driver logs, beats and counts in its metrics
SUMMARY_SCHEMA = (
    "task int, scored long, dead_lettered long, skipped long, newest_us long, "
    "read double, parse double, score double, kafka double, stores double, total double"
)
PHASES = ("read", "parse", "score", "kafka", "stores")


def job_phases(job_seconds: float, slowest_task: Mapping[str, float]) -> list[tuple[str, float]]:
    """A batch's phases for the metrics: the slowest task's, and "job" for the rest of the job's
    time around it (planning, scheduling, the Python worker's round trip); they add up to the job."""
    phases = [(name, float(slowest_task[name])) for name in PHASES]
    return [*phases, ("job", max(0.0, job_seconds - sum(seconds for _, seconds in phases)))]


@dataclass(frozen=True)
class ShippedModel:
    """What a task needs of a version: the checked compiled form and its scope (Flags)."""

    version: str
    compiled: CompiledForest
    scope: ModelScope

    def serving(self) -> ServingModel:
        return replace(checked_compiled_model(self.version, self.compiled), scope=self.scope)


def summary_arrow_schema():
    import pyarrow as pa

    numbers = {"task": pa.int32(), "scored": pa.int64(), "dead_lettered": pa.int64(),
               "skipped": pa.int64(), "newest_us": pa.int64()}  # fmt: skip
    return pa.schema([*numbers.items(), *((name, pa.float64()) for name in (*PHASES, "total"))])


def batch_file_name(batch_id: int, partition: int) -> str:
    """Sorts by batch id, as the driver's own ``batch-<id>.jsonl`` names do."""
    return f"batch-{batch_id:012d}-p{partition:04d}.jsonl"


class Shipments:
    """Driver side: one broadcast per model version and per distance table, the old one dropped
    once the next is out (the batch that used it has ended by then)."""

    def __init__(self, context):
        self.context = context
        self._model: tuple[str, Any] | None = None  # (version, Broadcast)
        self._distances: tuple[Mapping, Any] | None = None  # (the table shipped, Broadcast)
        self._reads = 0  # which read of the table a task's copy is

    def model(self, serving: ServingModel) -> Any:
        if self._model is None or self._model[0] != serving.version:
            shipped = ShippedModel(serving.version, serving.compiled, serving.scope)
            self._model = self._replace(self._model, (serving.version, self.context.broadcast(shipped)))
        return self._model[1]

    def distances(self, known: Mapping) -> Any:
        if self._distances is None or self._distances[0] is not known:  # a new read is a new dict
            self._reads += 1
            shipped = self.context.broadcast((self._reads, dict(known)))
            self._distances = self._replace(self._distances, (known, shipped))
        return self._distances[1]

    @staticmethod
    def _replace(old: tuple | None, new: tuple) -> tuple:
        if old is not None:
            old[1].unpersist(blocking=False)
        return new


class ExecutorWork:
    """Executor side: the clients and unpacked shipments one Python worker keeps between tasks."""

    def __init__(self, settings: Settings):
        from hdfs import InsecureClient

        self.settings = settings
        self.kafka = KafkaSink(settings)
        self.predictions = MongoSink(settings)
        self.hdfs = InsecureClient(settings.webhdfs_url, user=settings.hdfs_user, timeout=60)
        self.stores = ThreadPoolExecutor(max_workers=2, thread_name_prefix="stores")
        # the broadcast values unpacked, by model version and by read of the distances: the
        # version before is done with once a task brings the next
        self._model: ServingModel | None = None
        self._distances: tuple[int, RouteDistances] | None = None
        self._airports = None

    def model(self, shipped) -> ServingModel:
        if self._model is None or self._model.version != shipped.value.version:
            self._model = shipped.value.serving()
        return self._model

    def distances(self, shipped) -> RouteDistances:
        read, table = shipped.value  # loaded once per broadcast by the worker, then kept
        if self._distances is None or self._distances[0] != read:
            if self._airports is None:
                self._airports = dict(load_airports())
            self._distances = (read, RouteDistances.fixed(table, self._airports))
        return self._distances[1]

    def write_file(self, batch_id: int, partition: int, predictions: list[dict]) -> str | None:
        """The task's predictions as one HDFS file, replaced if a replay wrote it before."""
        if not predictions:
            return None
        folder = self.settings.hdfs_predictions_path
        name = batch_file_name(batch_id, partition)
        # a task of a driver killed mid-batch may still be writing the same batch: never one file
        staged = f"{incoming_folder(folder)}/{name}.{uuid.uuid4().hex}"
        data = b"".join(orjson.dumps(p, option=AS_SORTED_JSON) + b"\n" for p in predictions)
        self.hdfs.write(staged, data=data, overwrite=True)
        final = f"{folder}/{name}"
        # WebHDFS's rename with OVERWRITE (rename2) replaces a replayed batch's file at once; the
        # client's public rename() has no such option, its request method passes it through
        reply = self.hdfs._rename(staged, destination=final, renameoptions="OVERWRITE")
        if reply.status_code != 200:
            raise SinkError(f"HDFS refused to move {staged} to {final}: {reply.status_code} {reply.text[:200]}")
        return final


_work: ExecutorWork | None = None


def executor_work(settings: Settings) -> ExecutorWork:
    global _work
    if _work is None or _work.settings != settings:
        _work = ExecutorWork(settings)
    return _work


def task_log(message: str) -> None:
    print(f"[score_stream task, pid {os.getpid()}] {message}", file=sys.stderr, flush=True)


def score_partitions(
    batch_id: int, settings: Settings, shipped_model: Any, shipped_distances: Any
) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """The function each task runs (``DataFrame.mapInArrow``): its records in, one summary out."""

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa
        from pyspark import TaskContext

        clock = PhaseClock()
        records = [record for batch in batches for record in zip(*(c.to_pylist() for c in batch.columns))]
        clock.lap("read")
        work = executor_work(settings)
        partition = TaskContext.get().partitionId()
        skipped = 0
        valid: list[dict] = []
        invalid: list[dict] = []
        if records:
            model = work.model(shipped_model)
            valid, invalid = score_records(records, model, work.distances(shipped_distances), clock)
            stored = work.stores.submit(work.predictions.insert, valid)
            written = work.stores.submit(work.write_file, batch_id, partition, valid)
            skipped = send_answers(work.kafka, settings, valid, invalid, task_log)
            clock.lap("kafka")
            stored.result()
            written.result()
            clock.lap("stores")
        laps = dict(clock.laps)
        summary = {
            "task": partition,
            "scored": len(valid),
            "dead_lettered": len(invalid),
            "skipped": skipped,
            "newest_us": newest_produced_us(records),
            **{phase: laps.get(phase, 0.0) for phase in PHASES},
            "total": sum(laps.values()),
        }
        yield pa.RecordBatch.from_pylist([summary], schema=summary_arrow_schema())

    return run
