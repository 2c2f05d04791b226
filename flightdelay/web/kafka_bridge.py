"""The front end's links to Kafka and MongoDB, one set per app.

- ``RequestProducer``: one Kafka producer; ``send`` returns only once the broker confirmed the
  record (or raises ``ServiceUnavailable``), so "OK" to the user means the request is in Kafka.
- ``ResponseListener``: one long-lived thread that follows the response topic and fills a
  bounded in-memory ``PredictionCache`` by UUID, waking the SSE streams waiting for that UUID.
  It assigns every partition itself (no consumer group rebalance, no committed offsets) starting
  at the end of the topic as found at app start, so each poll is a dictionary look-up instead of
  the seed's full topic scan with a new consumer.
- ``PredictionStore``: MongoDB, for answers the listener never saw (produced before the app
  started, or evicted from the cache): one find by ``_id`` (= UUID, as the scorer upserts them).

Nothing here connects at import time; ``KafkaBridge`` creates the clients lazily, at app start
or at first use.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import uuid as uuid_module
from collections import OrderedDict
from datetime import date, datetime
from typing import Any, Mapping

from flightdelay.flights.labels import delay_label
from flightdelay.store.queries import by_id
from flightdelay.web.config import WebConfig

log = logging.getLogger(__name__)
kafka_log = logging.getLogger("flightdelay.web.librdkafka")

# how often the listener looks for partitions added to the response topic
PARTITION_REFRESH_S = 30.0
# the longest pause between two attempts to reach Kafka when it is down
MAX_RETRY_BACKOFF_S = 5.0


class ServiceUnavailable(RuntimeError):
    """A platform service (Kafka or MongoDB) did not answer; the message says which and why."""

    def __init__(self, service: str, message: str):
        super().__init__(message)
        self.service = service


def describe(exc: BaseException) -> str:
    """A Kafka error as its text (KafkaException's str() is the KafkaError's repr)."""
    first = exc.args[0] if exc.args else None
    text = first.str() if hasattr(first, "str") else str(exc)
    return text or type(exc).__name__


def json_ready(value: Any) -> Any:
    """A stored prediction as plain JSON types (Mongo may hand back datetimes and ObjectIds)."""
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items() if k != "_id"}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def prediction_view(record: Mapping[str, Any]) -> dict[str, Any]:
    """The ``prediction`` object of the OK envelope: the response record, label filled if absent."""
    view = json_ready(record)
    if "PredictionLabel" not in view and isinstance(view.get("Prediction"), (int, float)):
        try:
            view["PredictionLabel"] = delay_label(view["Prediction"])
        except ValueError:
            pass
    return view


def ok_envelope(key: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """What the response route and the stream answer once the prediction is known."""
    return {"status": "OK", "id": key, "prediction": prediction_view(record)}


def normalize_uuid(text: str | bytes | None) -> str | None:
    if text is None:
        return None
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    try:
        return str(uuid_module.UUID(text.strip()))
    except (ValueError, AttributeError):
        return None


# --- the cache and the waiting streams ---------------------------------------------------------


class PredictionCache:
    """Predictions by UUID: at most ``max_entries``, each for at most ``ttl_s`` seconds.

    A prediction may be stored as the raw JSON of its Kafka record: it is parsed when first asked
    for (the listener sees every response of the platform, and most are never looked up here)."""

    def __init__(self, max_entries: int, ttl_s: float, clock=time.monotonic):
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._clock = clock
        self._items: OrderedDict[str, tuple[float, dict | bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, key: str, record: dict | bytes) -> None:
        with self._lock:
            self._items[key] = (self._clock(), record)
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def get(self, key: str) -> dict | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            stored_at, record = item
            if self._clock() - stored_at > self.ttl_s:
                del self._items[key]
                return None
            if isinstance(record, bytes):
                record = json_object(record)
                if record is None:  # not a JSON object: as if it had never arrived
                    del self._items[key]
                    return None
                self._items[key] = (stored_at, record)
            return record

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


def json_object(value: bytes | None) -> dict | None:
    """A record's value as a dict, or None when it is not a JSON object."""
    try:
        record = json.loads(value)
    except (TypeError, ValueError):
        return None
    return record if isinstance(record, dict) else None


class Subscribers:
    """The SSE streams waiting for a UUID, each with its own queue."""

    def __init__(self) -> None:
        self._waiting: dict[str, set[queue.SimpleQueue]] = {}
        self._lock = threading.Lock()

    def subscribe(self, key: str) -> queue.SimpleQueue:
        inbox: queue.SimpleQueue = queue.SimpleQueue()
        with self._lock:
            self._waiting.setdefault(key, set()).add(inbox)
        return inbox

    def unsubscribe(self, key: str, inbox: queue.SimpleQueue) -> None:
        with self._lock:
            waiting = self._waiting.get(key)
            if waiting is not None:
                waiting.discard(inbox)
                if not waiting:
                    del self._waiting[key]

    def waiting_for(self, key: str) -> bool:
        with self._lock:
            return key in self._waiting

    def notify(self, key: str, record: dict) -> int:
        with self._lock:
            inboxes = list(self._waiting.get(key, ()))
        for inbox in inboxes:
            inbox.put(record)
        return len(inboxes)

    def __len__(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._waiting.values())


# --- Kafka ---------------------------------------------------------------------------------------


def _kafka_common(config: WebConfig, role: str) -> dict[str, Any]:
    return {
        "bootstrap.servers": config.kafka_bootstrap,
        **config.kafka_login,
        "client.id": f"flightdelay-web-{role}",
        "socket.connection.setup.timeout.ms": max(1000, int(config.produce_timeout_s * 1000)),
        "reconnect.backoff.max.ms": int(MAX_RETRY_BACKOFF_S * 1000),
        "log.connection.close": False,
        # librdkafka's own log lines go to Python logging instead of stderr
        "logger": kafka_log,
    }


class RequestProducer:
    """The app's one Kafka producer, created at first use."""

    def __init__(self, config: WebConfig):
        self.config = config
        self._producer = None
        self._lock = threading.Lock()

    def _get(self):
        from confluent_kafka import Producer

        with self._lock:
            if self._producer is None:
                self._producer = Producer(
                    {
                        **_kafka_common(self.config, "producer"),
                        "acks": "all",
                        "enable.idempotence": True,
                        "linger.ms": 0,
                        # the broker's verdict comes within the time the user is made to wait
                        "message.timeout.ms": int(self.config.produce_timeout_s * 1000),
                    }
                )
            return self._producer

    def _discard(self, producer) -> None:
        with self._lock:
            if self._producer is producer:
                self._producer = None

    def send(self, topic: str, key: str, value: Mapping[str, Any]) -> tuple[int, int]:
        """Produce one record and wait for the broker's acknowledgement: (partition, offset)."""
        from confluent_kafka import KafkaException

        producer = self._get()
        done = threading.Event()
        outcome: dict[str, Any] = {}

        def delivered(err, msg) -> None:
            outcome["error"], outcome["msg"] = err, msg
            done.set()

        try:
            producer.produce(topic, key=key.encode(), value=json.dumps(value).encode(), on_delivery=delivered)
        except BufferError:
            raise ServiceUnavailable(
                "kafka", "Kafka is not taking requests fast enough (producer queue full)"
            ) from None
        except KafkaException as exc:
            raise ServiceUnavailable("kafka", f"Kafka refused the request: {describe(exc)}") from exc
        # message.timeout.ms makes librdkafka report a failure before this deadline
        deadline = time.monotonic() + self.config.produce_timeout_s + 2.0
        while not done.is_set() and time.monotonic() < deadline:
            producer.poll(0.05)  # serves this and other threads' delivery callbacks
        if not done.is_set():
            raise ServiceUnavailable("kafka", "Kafka did not confirm the request in time")
        error = outcome["error"]
        if error is not None:
            if error.fatal():
                self._discard(producer)
            raise ServiceUnavailable("kafka", f"Kafka did not take the request: {error.str()}")
        msg = outcome["msg"]
        return msg.partition(), msg.offset()

    def topics(self, timeout: float) -> dict[str, int]:
        """Topic name -> partition count, from the broker (raises KafkaException if unreachable)."""
        metadata = self._get().list_topics(timeout=timeout)
        return {name: len(t.partitions) for name, t in metadata.topics.items() if t.error is None}

    def close(self, timeout: float = 2.0) -> None:
        with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            producer.flush(timeout)


class ResponseListener:
    """One thread following the response topic from its end at start; fills the cache."""

    def __init__(self, config: WebConfig, cache: PredictionCache, subscribers: Subscribers):
        self.config = config
        self.cache = cache
        self.subscribers = subscribers
        self.ready = threading.Event()
        self.received = 0
        self.skipped = 0
        self.errors = 0  # Kafka errors met while following, since the start (/metrics)
        self.last_error: str | None = None
        self._positions: dict[int, int] = {}  # partition -> next offset to read
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # --- control ---------------------------------------------------------------------------
    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="response-listener", daemon=True)
                self._thread.start()

    def wait_ready(self, timeout: float) -> bool:
        self.start()
        if not self.ready.is_set():
            self._wake.set()  # skip a pending back-off: someone needs Kafka now
        return self.ready.wait(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def status(self) -> dict[str, Any]:
        return {
            "state": "listening" if self.ready.is_set() else ("starting" if self._thread else "not started"),
            "partitions": len(self._positions),
            "received": self.received,
            "skipped": self.skipped,
            "errors": self.errors,
            "cached": len(self.cache),
            "waiting_streams": len(self.subscribers),
            "last_error": self.last_error,
        }

    # --- the thread ------------------------------------------------------------------------
    def _run(self) -> None:
        from confluent_kafka import KafkaException

        backoff = 0.5
        while not self._stop.is_set():
            consumer = None
            try:
                consumer = self._new_consumer()
                self._assign(consumer)
                self.ready.set()
                self.last_error = None
                backoff = 0.5
                self._follow(consumer)
            except (KafkaException, ServiceUnavailable) as exc:
                self.ready.clear()
                self.last_error = describe(exc)
                self.errors += 1
                log.warning("response listener: %s; retrying in %.1fs", exc, backoff)
            except Exception as exc:  # never let the thread die: the app would go deaf
                self.ready.clear()
                self.last_error = f"{type(exc).__name__}: {exc}"
                self.errors += 1
                log.exception("response listener failed; retrying in %.1fs", backoff)
            finally:
                if consumer is not None:
                    try:
                        consumer.close()
                    except Exception:  # closing a consumer whose broker is gone
                        pass
            if self._stop.is_set():
                break
            self._wake.clear()
            self._wake.wait(backoff)
            backoff = min(backoff * 2, MAX_RETRY_BACKOFF_S)

    def _new_consumer(self):
        from confluent_kafka import Consumer

        return Consumer(
            {
                **_kafka_common(self.config, "listener"),
                # partitions are assigned, never subscribed: the group id is unique and unused,
                # nothing is committed, so no other consumer is affected
                "group.id": f"flightdelay-web-{uuid_module.uuid4()}",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "fetch.wait.max.ms": 100,
            }
        )

    def _partitions(self, consumer) -> list[int]:
        topic = self.config.response_topic
        metadata = consumer.list_topics(topic, timeout=self.config.produce_timeout_s)
        described = metadata.topics.get(topic)
        if described is None or described.error is not None or not described.partitions:
            why = described.error.str() if described is not None and described.error else "no partitions"
            raise ServiceUnavailable("kafka", f"response topic {topic} unavailable: {why}")
        return sorted(described.partitions)

    def _assign(self, consumer) -> None:
        from confluent_kafka import TopicPartition

        topic = self.config.response_topic
        assignment = []
        for partition in self._partitions(consumer):
            if partition not in self._positions:
                # first time: the end of the partition now, i.e. at app start
                _low, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=self.config.produce_timeout_s, cached=False
                )
                self._positions[partition] = high
            assignment.append(TopicPartition(topic, partition, self._positions[partition]))
        consumer.assign(assignment)
        log.info("response listener: following %s from offsets %s", topic, self._positions)

    def _add_new_partitions(self, consumer) -> None:
        from confluent_kafka import OFFSET_BEGINNING, TopicPartition

        fresh = [p for p in self._partitions(consumer) if p not in self._positions]
        if fresh:
            # a partition added after start holds only records newer than the start
            for partition in fresh:
                self._positions[partition] = 0
            consumer.incremental_assign(
                [TopicPartition(self.config.response_topic, p, OFFSET_BEGINNING) for p in fresh]
            )

    def _follow(self, consumer) -> None:
        from confluent_kafka import KafkaError

        next_refresh = time.monotonic() + PARTITION_REFRESH_S
        while not self._stop.is_set():
            # poll, not consume(n, timeout): consume waits for n records or the timeout, which
            # would hold each answer back for up to the timeout
            msg = consumer.poll(0.5)
            if msg is None:
                pass
            elif msg.error() is None:
                self._handle(msg)
            elif msg.error().code() != KafkaError._PARTITION_EOF:
                self.last_error = msg.error().str()
                self.errors += 1
                if msg.error().fatal():
                    raise ServiceUnavailable("kafka", f"response listener: {self.last_error}")
            if time.monotonic() >= next_refresh:
                next_refresh = time.monotonic() + PARTITION_REFRESH_S
                try:
                    self._add_new_partitions(consumer)
                except Exception as exc:  # the broker may be briefly away: keep following
                    self.last_error = describe(exc)
                    self.errors += 1

    def _handle(self, msg) -> None:
        self._positions[msg.partition()] = msg.offset() + 1
        key = normalize_uuid(msg.key())
        if key is not None:
            # kept unparsed until someone asks: parsing every response of the platform cost
            # this app 7% of a core at 5,000 predictions/s
            self.cache.put(key, msg.value())
        else:  # a record without a key: its UUID is in the value
            record = json_object(msg.value())
            key = normalize_uuid(record.get("UUID")) if record is not None else None
            if key is None:
                self.skipped += 1
                return
            self.cache.put(key, record)
        self.received += 1
        if self.subscribers.waiting_for(key):
            record = self.cache.get(key)
            if record is not None:
                self.subscribers.notify(key, record)


# --- MongoDB -------------------------------------------------------------------------------------


class PredictionStore:
    """The app's one MongoDB client (created at first use) and the look-ups the front end needs."""

    def __init__(self, config: WebConfig):
        self.config = config
        self._client = None
        self._lock = threading.Lock()

    def database(self):
        from pymongo import MongoClient

        with self._lock:
            if self._client is None:
                timeout_ms = int(self.config.probe_timeout_s * 1000)
                self._client = MongoClient(
                    self.config.mongo_uri,
                    serverSelectionTimeoutMS=timeout_ms,
                    connectTimeoutMS=timeout_ms,
                    appname="flightdelay-web",
                )
            return self._client[self.config.mongo_database]

    def find_prediction(self, key: str) -> dict | None:
        """The stored prediction for a UUID, or None (the scorer inserts with ``_id`` = UUID; an
        indexed look-up on FerretDB/PostgreSQL)."""
        import pymongo
        from pymongo.errors import PyMongoError

        try:
            with pymongo.timeout(self.config.probe_timeout_s):
                return self.database()[self.config.predictions_collection].find_one(by_id(key))
        except PyMongoError as exc:
            raise ServiceUnavailable("mongodb", f"MongoDB did not answer ({type(exc).__name__})") from exc

    def ping(self) -> None:
        import pymongo

        with pymongo.timeout(self.config.probe_timeout_s):
            self.database().client.admin.command("ping")

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()


# --- the bridge ----------------------------------------------------------------------------------


class KafkaBridge:
    """Everything an app needs from Kafka and MongoDB. One per app (``app.extensions``)."""

    def __init__(self, config: WebConfig):
        self.config = config
        self.cache = PredictionCache(config.cache_max_entries, config.cache_ttl_s)
        self.subscribers = Subscribers()
        self.listener = ResponseListener(config, self.cache, self.subscribers)
        self.producer = RequestProducer(config)
        self.store = PredictionStore(config)
        # UUIDs this app produced while following the response topic: their answers come from
        # the listener, so their look-ups never query MongoDB (FerretDB v1 on SQLite scans the
        # whole collection for any find: seconds once it holds a few hundred thousand predictions)
        self.sent = PredictionCache(config.cache_max_entries, config.cache_ttl_s)

    def start(self) -> None:
        """Start following the response topic (idempotent)."""
        self.listener.start()

    def send_request(self, request: Mapping[str, Any]) -> tuple[int, int]:
        """Produce a validated request keyed by its UUID, once the listener is following the
        response topic (so its answer cannot slip past), and wait for the broker's ack."""
        if not self.listener.wait_ready(self.config.produce_timeout_s):
            why = self.listener.last_error or "no answer"
            raise ServiceUnavailable("kafka", f"Kafka is unreachable ({why})")
        self.sent.put(request["UUID"], {"sent": True})
        return self.producer.send(self.config.request_topic, request["UUID"], request)

    def awaiting_here(self, key: str) -> bool:
        """True for a request this app sent recently: only the listener can have its answer."""
        return self.sent.get(key) is not None

    def lookup(self, key: str) -> dict | None:
        """The prediction for a UUID: from the cache, else (for a request this app did not just
        send) MongoDB; None while there is none."""
        record = self.cache.get(key)
        if record is not None or self.awaiting_here(key):
            return record
        record = self.store.find_prediction(key)
        if record is not None:
            self.cache.put(key, record)
        return record

    def subscribe(self, key: str) -> queue.SimpleQueue:
        return self.subscribers.subscribe(key)

    def unsubscribe(self, key: str, inbox: queue.SimpleQueue) -> None:
        self.subscribers.unsubscribe(key, inbox)

    def health(self) -> dict[str, Any]:
        # no addresses in the report: it is public, and a URI may one day carry credentials
        kafka: dict[str, Any] = {}
        try:
            topics = self.producer.topics(self.config.probe_timeout_s)
            missing = [t for t in (self.config.request_topic, self.config.response_topic) if t not in topics]
            kafka["ok"] = not missing
            kafka["topics"] = {t: topics.get(t) for t in (self.config.request_topic, self.config.response_topic)}
            if missing:
                kafka["detail"] = f"missing topic(s): {', '.join(missing)}"
        except Exception as exc:  # any failure to reach the broker is "down", with its reason
            kafka["ok"] = False
            kafka["detail"] = f"unreachable: {describe(exc)}"
        mongo: dict[str, Any] = {}
        try:
            self.store.ping()
            mongo["ok"] = True
        except Exception as exc:
            mongo["ok"] = False
            mongo["detail"] = f"unreachable: {type(exc).__name__}"
        return {"kafka": kafka, "mongodb": mongo, "listener": self.listener.status()}

    def close(self) -> None:
        self.listener.stop()
        self.producer.close()
        self.store.close()
