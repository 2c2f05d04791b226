"""Where a scored micro-batch goes: the response topic, MongoDB, HDFS, and the dead-letter topic.

Every write is idempotent or de-duplicated downstream, because a micro-batch is replayed after a
crash (Structured Streaming commits offsets only after foreachBatch returns):
- MongoDB: ``_id`` = UUID (plus a unique index on UUID); a replayed prediction is a duplicate
  key and is skipped. (Not an upsert: FerretDB v1 on SQLite scans the whole collection for each
  upsert by _id, while a plain insert stays fast.)
- HDFS: one JSON Lines file per batch id, overwritten on replay;
- Kafka response topic: at-least-once; consumers de-duplicate by the key (= UUID).
A sink that fails raises, so the batch fails and is replayed: nothing accepted is lost.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Iterable

from confluent_kafka import Producer
from pymongo import MongoClient
from pymongo.errors import BulkWriteError

from flightdelay.settings import Settings


DUPLICATE_KEY = 11000


class SinkError(RuntimeError):
    pass


class KafkaSink:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.producer = Producer(
            {
                "bootstrap.servers": settings.kafka_bootstrap,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 2,
                "compression.type": "lz4",
            }
        )

    def send(self, topic: str, records: Iterable[tuple[str | None, dict]]) -> int:
        errors: list[str] = []

        def delivered(err, _msg) -> None:
            if err is not None:
                errors.append(str(err))

        count = 0
        for key, value in records:
            while True:
                try:
                    self.producer.produce(topic, key=key, value=json.dumps(value), on_delivery=delivered)
                    break
                except BufferError:  # local queue full: let it drain
                    self.producer.poll(0.1)
            count += 1
        remaining = self.producer.flush(30)
        if errors or remaining:
            raise SinkError(f"{len(errors) + remaining} of {count} records not delivered to {topic}: {errors[:3]}")
        return count


class MongoSink:
    def __init__(self, settings: Settings):
        self.client = MongoClient(settings.mongo_uri)
        self.collection = self.client[settings.mongo_database][settings.predictions_collection]
        self.collection.create_index("UUID", unique=True)

    def insert(self, predictions: list[dict]) -> int:
        """Insert each prediction once; returns how many were new."""
        if not predictions:
            return 0
        try:
            result = self.collection.insert_many([{"_id": p["UUID"], **p} for p in predictions], ordered=False)
            return len(result.inserted_ids)
        except BulkWriteError as exc:
            others = [e for e in exc.details.get("writeErrors", []) if e.get("code") != DUPLICATE_KEY]
            if others:
                raise SinkError(f"MongoDB refused {len(others)} predictions: {others[:3]}") from exc
            return exc.details.get("nInserted", 0)


class HdfsSink:
    def __init__(self, settings: Settings):
        from hdfs import InsecureClient

        self.client = InsecureClient(settings.webhdfs_url, user=settings.hdfs_user, timeout=60)
        self.folder = settings.hdfs_predictions_path
        self.client.makedirs(self.folder)

    def path(self, batch_id: int) -> str:
        return f"{self.folder}/batch-{batch_id:012d}.jsonl"

    def write_batch(self, batch_id: int, predictions: list[dict]) -> str | None:
        if not predictions:
            return None
        lines = "".join(json.dumps(p, sort_keys=True) + "\n" for p in predictions)
        path = self.path(batch_id)
        self.client.write(path, data=lines, encoding="utf-8", overwrite=True)
        return path


def dead_letter(row: dict) -> tuple[str | None, dict]:
    return row.get("UUID"), {
        "payload": row.get("payload"),
        "reason": row.get("error"),
        "source": row.get("source"),
        "failed_at": datetime.now(timezone.utc).isoformat(),
    }
