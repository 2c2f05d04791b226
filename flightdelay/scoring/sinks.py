"""Where a scored micro-batch goes: the response topic, MongoDB, HDFS, and the dead-letter topic.

Every write is idempotent or de-duplicated downstream, because a micro-batch is replayed after a
crash (Structured Streaming commits offsets only after foreachBatch returns):
- MongoDB: ``_id`` = UUID; a replayed prediction is a duplicate key and is skipped (a plain
  insert is cheaper than an upsert). On FerretDB/PostgreSQL the rows go into FerretDB's table
  directly (flightdelay.store.direct_writes), where the same unique index skips them. Each
  document also carries ``ScoredDay``, the UTC day that retention deletes by. The indexes are the
  store's (flightdelay.store.indexes). The scorer inserts one batch behind and restores the newest
  batch files at start (MongoTrail).
- HDFS: one JSON Lines file per batch id, replaced on replay;
- Kafka response topic: at-least-once; consumers de-duplicate by the key (= UUID).
A sink that fails raises, so the batch fails and is replayed: nothing accepted is lost. The one
exception is a message Kafka refuses for what it is (too large, invalid): sending it again would
fail again and replay the batch for ever, so ``KafkaSink.send`` returns it and the scorer
dead-letters a note about it instead.
"""

from __future__ import annotations

import json
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator

import orjson
from confluent_kafka import KafkaError, KafkaException, Producer
from pymongo import MongoClient
from pymongo.errors import BulkWriteError, ConnectionFailure, OperationFailure
from tenacity import retry, retry_if_exception, stop_after_delay, wait_exponential

from flightdelay import kafka_auth
from flightdelay.scoring.dead_letters import letter
from flightdelay.scoring.recovery import first_line
from flightdelay.settings import Settings
from flightdelay.store.direct_writes import DirectTable, direct_table, encode_all
from flightdelay.store.retention import scored_day

DUPLICATE_KEY = 11000
# orjson: every prediction is serialized twice (Kafka, HDFS); json took 5-7 µs each, orjson 0.5-0.8
AS_JSON = orjson.OPT_SERIALIZE_NUMPY
AS_SORTED_JSON = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_SORT_KEYS


# Kafka errors about one message itself: the same message would be refused again, the others not
MESSAGE_ERRORS = frozenset(
    {
        KafkaError.MSG_SIZE_TOO_LARGE,
        KafkaError.INVALID_MSG,
        KafkaError.INVALID_MSG_SIZE,
        KafkaError.RECORD_LIST_TOO_LARGE,
        KafkaError.INVALID_RECORD,
        KafkaError.INVALID_TIMESTAMP,
        KafkaError._BAD_MSG,
        KafkaError._KEY_SERIALIZATION,
        KafkaError._VALUE_SERIALIZATION,
    }
)


class SinkError(RuntimeError):
    pass


@dataclass(frozen=True)
class Undelivered:
    """A message Kafka refused for what it is; `value` is what was sent (None: not serializable)."""

    topic: str
    key: str | None
    value: bytes | None
    error: str


class KafkaSink:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.producer = Producer(
            {
                **kafka_auth.client_config(settings),
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 2,
                "compression.type": "lz4",
                # a Python callback for every delivered message cost ~10 µs each at 5,000/s; only
                # the failures matter (_deliver), and flush() still waits for every message
                "delivery.report.only.error": True,
            }
        )

    def send(self, topic: str, records: Iterable[tuple[str | None, dict]]) -> list[Undelivered]:
        """Send every record and wait for Kafka to have them all. Returns the records Kafka refused
        for what they are; raises SinkError for any other failure (the batch is replayed)."""
        unserializable: list[Undelivered] = []

        def serialized() -> Iterator[tuple[str | None, bytes]]:
            for key, value in records:
                try:
                    yield key, orjson.dumps(value, option=AS_JSON)
                except TypeError as exc:  # orjson.JSONEncodeError: a value JSON cannot hold
                    unserializable.append(Undelivered(topic, key, None, f"not serializable: {exc}"))

        return unserializable + self._isolate(topic, self._deliver(topic, serialized()))

    def _isolate(self, topic: str, refused: list[Undelivered]) -> list[Undelivered]:
        """The broker refuses a whole batch of messages for one bad one: send the refused ones
        again, in halves, until each one refused is refused alone."""
        if len(refused) <= 1:
            return refused
        middle = len(refused) // 2
        return [
            alone
            for half in (refused[:middle], refused[middle:])
            for alone in self._isolate(topic, self._deliver(topic, ((r.key, r.value) for r in half)))
        ]

    def _deliver(self, topic: str, messages: Iterable[tuple[str | None, bytes]]) -> list[Undelivered]:
        """Send and wait; returns the messages refused for what they are, raises for the rest."""
        refused: list[Undelivered] = []
        failures: list[str] = []

        def delivered(err, msg) -> None:
            if err is None:
                return
            if err.code() in MESSAGE_ERRORS:
                refused.append(Undelivered(topic, _text(msg.key()), msg.value(), err.str()))
            else:
                failures.append(str(err))

        count = 0
        for key, data in messages:
            count += 1
            problem = self._produce(topic, key, data, delivered)
            if problem:
                refused.append(Undelivered(topic, key, data, problem))
        remaining = self.producer.flush(30)
        if failures or remaining:
            raise SinkError(f"{len(failures) + remaining} of {count} records not delivered to {topic}: {failures[:3]}")
        return refused

    def _produce(self, topic: str, key: str | None, data: bytes, delivered: Callable) -> str | None:
        """Queue one message; returns why Kafka refused it at once (librdkafka checks the size
        before sending), or None."""
        while True:
            try:
                self.producer.produce(topic, key=key, value=data, on_delivery=delivered)
                return None
            except BufferError:  # local queue full: let it drain
                self.producer.poll(0.1)
            except KafkaException as exc:
                error = exc.args[0]
                if error.code() not in MESSAGE_ERRORS:
                    raise SinkError(f"cannot send to {topic}: {error.str()}") from exc
                return error.str()
            except UnicodeEncodeError as exc:  # a key with a lone surrogate
                return f"key not encodable: {exc}"


def _text(key: bytes | None) -> str | None:
    return None if key is None else key.decode("utf-8", errors="replace")


#: how long a MongoDB outage is waited out before the batch fails (and the supervisor restarts us)
MONGO_OUTAGE_S = 600


def store_unreachable(exc: BaseException) -> bool:
    """MongoDB is down, or FerretDB is up but its PostgreSQL is not (an outage, not a bad record)."""
    import psycopg2

    if isinstance(exc, (ConnectionFailure, psycopg2.OperationalError, psycopg2.InterfaceError)):
        return True  # psycopg2's: the direct writes' connection (refused, or the server shut down)
    return isinstance(exc, OperationFailure) and "failed to connect to" in str(exc)


class MongoSink:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.client = MongoClient(settings.mongo_uri)
        self.collection = self.client[settings.mongo_database][settings.predictions_collection]
        # FerretDB/PostgreSQL: written into its table directly (store.direct_writes)
        self.direct_possible = True
        self.table: DirectTable | None = None

    # A MongoDB outage makes the insert wait and retry, up to MONGO_OUTAGE_S: the batch is not
    # failed and replayed (which would send its answers twice), and answers resume as soon as
    # MongoDB is back. A retried insert_many skips what its first try stored (duplicate _id).
    @retry(
        retry=retry_if_exception(store_unreachable),
        wait=wait_exponential(multiplier=0.5, max=5),
        stop=stop_after_delay(MONGO_OUTAGE_S),
        before_sleep=lambda state: print(f"MongoDB unreachable ({state.outcome.exception()}), retrying", flush=True),
        reraise=True,
    )
    def insert(self, predictions: list[dict]) -> int:
        """Insert each prediction once; returns how many were new."""
        if not predictions:
            return 0
        now = datetime.now(timezone.utc).isoformat()  # for a record that names no ScoredAt
        documents = [{"_id": p["UUID"], **p, "ScoredDay": scored_day(p.get("ScoredAt") or now)} for p in predictions]
        table = self._direct_table()
        if table is None:
            return self._insert_many(documents)
        rows, others = encode_all(documents)
        return table.insert(rows) + (self._insert_many(others) if others else 0)

    def _direct_table(self) -> DirectTable | None:
        """Decided at the first insert (the store answers by then), once per scorer process."""
        if self.table is None and self.direct_possible:
            self.table = direct_table(self.collection, self.settings)
            self.direct_possible = self.table is not None
        return self.table

    def _insert_many(self, documents: list[dict]) -> int:
        try:
            result = self.collection.insert_many(documents, ordered=False)
            return len(result.inserted_ids)
        except BulkWriteError as exc:
            others = [e for e in exc.details.get("writeErrors", []) if e.get("code") != DUPLICATE_KEY]
            if others:
                raise SinkError(f"MongoDB refused {len(others)} predictions: {others[:3]}") from exc
            return exc.details.get("nInserted", 0)


def incoming_folder(folder: str) -> str:
    """Where a batch file is staged before it is renamed into ``folder``: outside the folder
    readers list, so that they never see half a file."""
    parent, _, name = folder.rstrip("/").rpartition("/")
    return f"{parent}/.{name}-incoming"


class HdfsSink:
    """One JSON Lines file per batch on HDFS, staged on local disk, copied by the driver JVM's
    native HDFS client and renamed into place: a reader never sees half a file and a replayed
    batch replaces its own file. (~40 ms for a small batch and ~100 ms for 10 MB here, where
    WebHDFS took ~120 ms for any file and py4j byte transfers 1.7 s for 10 MB.)"""

    def __init__(self, settings: Settings, spark, staging: Path):
        """``spark``: a SparkContext or SparkSession (only its JVM and Hadoop configuration)."""
        jvm = self._jvm = spark._jvm
        self._path = jvm.org.apache.hadoop.fs.Path
        self.fs = jvm.org.apache.hadoop.fs.FileSystem.get(
            jvm.java.net.URI(settings.hdfs_uri), spark._jsc.hadoopConfiguration()
        )
        self.folder = settings.hdfs_predictions_path
        self.incoming = incoming_folder(self.folder)
        for folder in (self.folder, self.incoming):
            self.fs.mkdirs(self._path(folder))
        self.staging = staging
        self.staging.mkdir(parents=True, exist_ok=True)
        # looked up once: each lookup by name through py4j searches every jar of the classpath
        self._io_utils = jvm.org.apache.commons.io.IOUtils

    def path(self, batch_id: int) -> str:
        return f"{self.folder}/batch-{batch_id:012d}.jsonl"

    def clear_batch(self, batch_id: int) -> int:
        """Delete every file of a batch, whoever wrote it (the driver's one file, the tasks' one
        each): a batch about to be replayed. Returns how many there were."""
        found = self.fs.globStatus(self._path(f"{self.folder}/batch-{batch_id:012d}*.jsonl")) or []
        for status in found:
            self.fs.delete(status.getPath(), False)
        return len(found)

    def write_problem(self, folder: str) -> str | None:
        """None if HDFS takes a small file in ``folder`` now (the NameNode answers, out of safe
        mode, and a DataNode stores the block), else the reason it does not."""
        probe = self._path(f"{folder}/.write-probe")
        try:
            stream = self.fs.create(probe, True)
            try:
                stream.write(b"ok")
            finally:
                stream.close()  # the block is stored on a DataNode only here
            self.fs.delete(probe, False)
            return None
        except Exception as exc:  # noqa: BLE001 - py4j errors of every kind mean "not yet"
            return first_line(exc)

    def newest(self, count: int) -> list[str]:
        """The paths of the newest `count` batch files (names sort by batch id)."""
        statuses = self.fs.listStatus(self._path(self.folder))
        names = sorted(str(st.getPath().getName()) for st in statuses if str(st.getPath().getName()).startswith("batch-"))
        return [f"{self.folder}/{name}" for name in names[-count:]]

    def read(self, path: str) -> list[dict]:
        text = self.read_text(path) or ""
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def read_text(self, path: str) -> str | None:
        """A small file's text (a batch file, an offset log entry), or None if there is none."""
        try:
            stream = self.fs.open(self._path(path))
        except Exception as exc:  # noqa: BLE001 - py4j wraps Java's FileNotFoundException
            if "FileNotFoundException" in str(exc):
                return None
            raise
        try:
            return self._io_utils.toString(stream, "UTF-8")
        finally:
            stream.close()

    def write_batch(self, batch_id: int, predictions: list[dict]) -> str | None:
        if not predictions:
            return None
        final = self.path(batch_id)
        name = final.rsplit("/", 1)[1]
        local = self.staging / name
        with open(local, "wb") as out:
            out.writelines(orjson.dumps(p, option=AS_SORTED_JSON) + b"\n" for p in predictions)
        staged = self._path(f"{self.incoming}/{name}")
        self.fs.copyFromLocalFile(True, True, self._path(local.resolve().as_uri()), staged)
        target = self._path(final)
        if self.fs.exists(target):  # a replayed batch
            self.fs.delete(target, False)
        if not self.fs.rename(staged, target):
            raise SinkError(f"HDFS refused to move {staged} to {final}")
        return final


class MongoTrail:
    """MongoDB inserts run one batch behind, overlapping the next batch's read and scoring.

    Inserting into FerretDB is the slowest step (~7,000 documents/s here), so batch N's insert
    runs in the background and batch N+1 waits for it before it returns. A crash can therefore
    only lose the insert of the newest committed batch, whose predictions are already in its
    HDFS file: on start the scorer inserts the newest batch files again (``restore``), and
    duplicates are skipped by _id, so MongoDB still ends with every prediction exactly once.
    """

    def __init__(self, sink: MongoSink):
        self.sink = sink
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mongo")
        self.pending: Future | None = None

    def follow(self, predictions: list[dict]) -> None:
        """Wait for the previous batch's insert (raising its error), then start this one's."""
        self.wait()
        self.pending = self.pool.submit(self.sink.insert, predictions) if predictions else None

    def wait(self) -> None:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            pending.result()

    def restore(self, files: HdfsSink, newest: int = 2) -> int:
        """Insert the predictions of the newest batch files again; returns how many were missing."""
        return sum(self.sink.insert(files.read(path)) for path in files.newest(newest))


def dead_letter(row: dict) -> tuple[str | None, dict]:
    """The letter of a parsed request row that cannot be answered (see dead_letters)."""
    return letter(row.get("UUID"), row.get("payload"), row.get("error"), row.get("source"), row.get("payload_bytes"))
