"""A canary prediction request and where to look for its answer (used by the deploy DAG). Both
are the contract's (flightdelay.contract): the request is built by its Request model, and the
answer found on the response topic must read as its Prediction.

The deploy DAG's Kafka provider operators take functions by dotted path: `canary_messages` (what
ProduceToTopicOperator sends), `raise_undelivered` (its delivery callback), `answer_to`
(AwaitMessageSensor's apply_function); `read_answers_from_end` positions the sensor's consumer
group before the canary goes out."""

from __future__ import annotations

import json
import time
from datetime import date

from flightdelay import kafka_auth
from flightdelay.contract import Prediction, new_request
from flightdelay.ops.processes import port_open
from flightdelay.settings import get_settings


def canary_request() -> dict:
    """A well-formed request on a busy route, flying today."""
    fields = {"Origin": "JFK", "Dest": "LAX", "Carrier": "AA", "FlightDate": date.today().isoformat(),
              "DepDelay": 5, "FlightNum": "1"}  # fmt: skip
    return new_request(fields)


def canary_messages(request: dict):
    """ProduceToTopicOperator's producer_function: the request as one (key, value) pair."""
    yield request["UUID"], json.dumps(request)


def raise_undelivered(err, msg) -> None:
    """ProduceToTopicOperator's delivery callback: an undelivered canary fails the task (the
    provider's default only logs it); confluent-kafka raises it from the producer's flush."""
    if err is not None:
        raise RuntimeError(f"the canary request was not delivered to Kafka: {err}")


def read_answers_from_end(consumer, topic: str) -> dict[int, int]:
    """Commit `consumer`'s group (not subscribed) at the end of every partition of `topic`: a
    consumer of that group subscribing afterwards reads only what was written from now on, however
    late it joins and however long the topic is. Returns the committed offset of each partition."""
    from confluent_kafka import TopicPartition

    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}
    consumer.commit(offsets=[TopicPartition(topic, p, end) for p, end in ends.items()], asynchronous=False)
    return ends


def answer_to(uuid: str, message) -> dict | None:
    """AwaitMessageSensor's apply_function: the answer to request `uuid` when `message` (a record
    of the response topic) is it, as the contract's Prediction in JSON form; None for any other
    record, pydantic's ValidationError when it is not a Prediction."""
    key = message.key()
    if key is None or key.decode("utf-8", "replace") != uuid:
        return None
    return Prediction.model_validate_json(message.value()).model_dump(mode="json", exclude_none=True)


def assign_since(consumer, topic: str, since_ms: int) -> None:
    """Point a consumer at every partition's first record written at or after `since_ms`."""
    from confluent_kafka import TopicPartition

    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    # each partition's end first: a partition with no record since since_ms starts there. The
    # end read afterwards (OFFSET_END, resolved at the first poll) would skip a record written
    # between the two look-ups (a dead letter lost to a test that way, in CI)
    ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}
    # offsets_for_times gives each partition's first offset at or after since_ms (-1: none)
    starts = consumer.offsets_for_times([TopicPartition(topic, p, since_ms) for p in partitions], timeout=10)
    consumer.assign([TopicPartition(topic, tp.partition, tp.offset if tp.offset >= 0 else ends[tp.partition])
                     for tp in starts])  # fmt: skip


def find_by_key(topic: str, key: str, timeout: float = 30.0, since_ms: int | None = None) -> bytes | None:
    """Read a topic forward until a record with this key; its value, or None after the timeout.

    From the records written since `since_ms` (epoch milliseconds) when given, else from the
    start: a long-lived topic holds millions of records, and a scan from the start would not
    reach a fresh one within any sensible deadline."""
    from confluent_kafka import Consumer

    consumer = Consumer(
        {
            **kafka_auth.client_config(get_settings()),
            "group.id": f"find-{key}-{time.monotonic_ns()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    try:
        if since_ms is None:
            consumer.subscribe([topic])
        else:
            assign_since(consumer, topic, since_ms)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is not None and not msg.error() and msg.key() == key.encode():
                return msg.value()
        return None
    finally:
        consumer.close()


def find_on_response_topic(uuid: str, timeout: float = 30.0, since_ms: int | None = None) -> dict | None:
    """The scorer's answer to a request, from the response topic (answered after `since_ms`), as
    the contract's Prediction record; pydantic's ValidationError when it is not one."""
    value = find_by_key(get_settings().response_topic, uuid, timeout, since_ms)
    return Prediction.model_validate_json(value).record() if value is not None else None


def find_in_hdfs(client, folder: str, uuid: str, newest: int = 20) -> str | None:
    """The newest prediction files that mention the UUID (the scorer writes one per batch)."""
    names = sorted(client.list(folder))[-newest:]
    for name in reversed(names):
        with client.read(f"{folder}/{name}", encoding="utf-8") as reader:
            if uuid in reader.read():
                return f"{folder}/{name}"
    return None


def nifi_running() -> bool:
    settings = get_settings()
    return port_open(settings.nifi_host, settings.nifi_port)
