"""Raw garbage on the request topic of the real running scorer (issue #12, "no poison pills"):
invalid JSON, binary, oversized and quote-heavy JSON, a message near the broker's limit, wrong
shapes and operator objects each land on the dead-letter topic with a reason, in a letter that
fits the topic; the query never stops, and good requests sent among and after them are answered,
once each."""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from typing import Callable, Iterator

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from flightdelay import kafka_auth
from flightdelay.canary import assign_since
from flightdelay.contract import MAX_MESSAGE_BYTES
from flightdelay.ops.scorer import ScoreStream
from flightdelay.scoring.dead_letters import MAX_LETTER_BYTES
from flightdelay.scoring.sinks import KafkaSink
from tests.integration.test_streaming import db, produce, requests_batch, wait_for_documents  # noqa: F401 (db: a fixture)

pytestmark = pytest.mark.slow

OVER_LIMIT = f"over the {MAX_MESSAGE_BYTES}-byte limit"


def topic_max_bytes(settings, topic: str) -> int:
    """The largest message the broker accepts on a topic (max.message.bytes)."""
    admin = AdminClient(kafka_auth.client_config(settings))
    (future,) = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, topic)]).values()
    return int(future.result(timeout=30)["max.message.bytes"].value)


def garbage(settings) -> dict[str, tuple[bytes, str]]:
    """Name: (raw request value, what its dead letter's reason must say)."""
    good = requests_batch(1)[0]
    near_limit = topic_max_bytes(settings, settings.request_topic) - 1024  # the record batch's overhead
    quote_heavy = b'{"UUID": "' + b'\\"' * 250_000 + b'"}'  # JSON-escaping it again doubles it
    return {
        "invalid JSON": (b"{this is not json", "not valid JSON"),
        "binary": (os.urandom(600_000), f"request is 600000 bytes, {OVER_LIMIT}"),
        "quote-heavy JSON": (quote_heavy, f"request is {len(quote_heavy)} bytes, {OVER_LIMIT}"),
        "raw quotes": (b'"' * 500_000, f"request is 500000 bytes, {OVER_LIMIT}"),
        "near the broker's limit": (os.urandom(near_limit), f"request is {near_limit} bytes, {OVER_LIMIT}"),
        "a list": (b'[1, 2, "three"]', "not a JSON object: list"),
        "a number": (b"42", "not a JSON object: int"),
        "a string": (b'"score me"', "not a JSON object: str"),
        "operator in UUID": (json.dumps({**good, "UUID": {"$gt": ""}}).encode(), "UUID: must be a UUID"),
        "operator in Origin": (json.dumps({**good, "Origin": {"$ne": None}}).encode(), "Origin: must be"),
    }


def produce_raw(settings, values: list[bytes]) -> list[str]:
    """Send raw values, in order; where each landed, as a dead letter's `source` names it."""
    limit = topic_max_bytes(settings, settings.request_topic)
    producer = Producer(kafka_auth.client_config(settings, **{"enable.idempotence": True, "message.max.bytes": limit}))
    sources: dict[int, str] = {}
    errors: list[str] = []

    def landed(index: int):
        def report(err, msg) -> None:
            if err is not None:
                errors.append(f"{index}: {err}")
            else:
                sources[index] = f"{msg.topic()}:{msg.partition()}:{msg.offset()}"

        return report

    for index, value in enumerate(values):
        producer.produce(settings.request_topic, value=value, on_delivery=landed(index))
    assert producer.flush(60) == 0 and errors == []
    return [sources[i] for i in range(len(values))]


def consumer_since(settings, topic: str, since_ms: int) -> Consumer:
    """A consumer of every record written to `topic` since `since_ms` (epoch milliseconds)."""
    group = {"group.id": f"poison-{uuid.uuid4()}", "enable.auto.commit": False}
    consumer = Consumer(kafka_auth.client_config(settings, **group))
    assign_since(consumer, topic, since_ms)
    return consumer


def read_since(settings, topic: str, since_ms: int, done: Callable[[], bool], timeout: float = 180) -> Iterator:
    """The records of `topic` written since `since_ms`, until `done()` and then 5 s more (a
    duplicate would come soon after the first), or until the timeout."""
    consumer = consumer_since(settings, topic, since_ms)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and not msg.error():
                yield msg
            if done() and deadline > time.monotonic() + 5:
                deadline = time.monotonic() + 5
    finally:
        consumer.close()


def dead_letters(settings, sources: set[str], since_ms: int) -> dict[str, list[bytes]]:
    """The dead letters (raw values) of the requests read at `sources`, by source."""
    found: dict[str, list[bytes]] = {}
    for msg in read_since(settings, settings.dead_letter_topic, since_ms, lambda: sources <= set(found)):
        try:
            source = json.loads(msg.value()).get("source")
        except (ValueError, AttributeError):
            continue  # other tests put probes of their own on this topic
        if source in sources:
            found.setdefault(source, []).append(msg.value())
    return found


def response_counts(settings, uuids: set[str], since_ms: int) -> dict[str, int]:
    """How many responses each UUID got since `since_ms`."""
    counts = dict.fromkeys(uuids, 0)
    for msg in read_since(settings, settings.response_topic, since_ms, lambda: all(counts.values())):
        if msg.key() and msg.key().decode() in counts:
            counts[msg.key().decode()] += 1
    return counts


@pytest.fixture(scope="module")
def scorer(trained_model, settings) -> ScoreStream:
    """The scorer on the current model, started as `flightdelay up score-stream` does if it is down."""
    stream = ScoreStream(settings)
    stream.start(log=print)
    return stream


@pytest.fixture(scope="module")
def poisoned(scorer, settings) -> dict:
    """Garbage sent between good requests in one burst, then good requests after it."""
    since_ms = int(time.time() * 1000) - 5_000
    pid = scorer.pid()
    cases = garbage(settings)
    among = requests_batch(2)
    values = [json.dumps(among[0]).encode(), *(value for value, _ in cases.values()), json.dumps(among[1]).encode()]
    sources = produce_raw(settings, values)[1:-1]
    after = requests_batch(3)
    produce(settings, after)
    return {
        "since_ms": since_ms,
        "pid": pid,
        "cases": {name: (value, reason, source) for (name, (value, reason)), source in zip(cases.items(), sources)},
        "good": [m["UUID"] for m in among + after],
    }


@pytest.fixture(scope="module")
def letters(poisoned, settings) -> dict[str, list[bytes]]:
    """The dead letters of the poison requests, by the source of the request."""
    return dead_letters(settings, {source for _, _, source in poisoned["cases"].values()}, poisoned["since_ms"])


def test_each_poison_request_gets_one_dead_letter_with_its_reason(poisoned, letters):
    for name, (value, reason, source) in poisoned["cases"].items():
        assert len(letters.get(source, [])) == 1, f"{name}: {len(letters.get(source, []))} letters"
        letter = json.loads(letters[source][0])
        assert reason in letter["reason"], (name, letter["reason"])
        assert letter["payload_bytes"] == len(value), name


def test_every_dead_letter_fits_and_says_when_its_payload_was_cut(poisoned, letters):
    for name, (value, _, source) in poisoned["cases"].items():
        raw = letters[source][0]
        assert len(raw) <= MAX_LETTER_BYTES, f"{name}: a letter of {len(raw)} bytes"
        letter = json.loads(raw)
        assert letter["truncated"] is (len(value) > MAX_MESSAGE_BYTES), name
        # the start of the original, bytes that are not UTF-8 as U+FFFD
        assert letter["payload"] == value[:MAX_MESSAGE_BYTES].decode("utf-8", errors="replace"), name


def test_good_requests_among_and_after_the_poison_are_answered_once(poisoned, db, settings):  # noqa: F811
    good = poisoned["good"]
    assert set(wait_for_documents(db, settings, good)) == set(good)  # once each: _id is the UUID
    # the batch holding the poison was not replayed: no answer was sent twice
    assert response_counts(settings, set(good), poisoned["since_ms"]) == dict.fromkeys(good, 1)


def test_the_query_never_stopped(poisoned, letters, scorer):
    assert scorer.pid() == poisoned["pid"]  # the driver did not exit (and was not restarted)
    assert scorer.probe() is None, scorer.probe()
    assert scorer.heartbeat().get("skipped") == 0


def test_a_message_the_broker_refuses_is_returned_and_the_rest_delivered(settings):
    """The broker refuses a whole batch of messages for one that is too large for the topic: the
    sink finds the one, delivers the others, and keeps working."""
    admin = AdminClient(kafka_auth.client_config(settings))
    topic = f"poison-scratch-{uuid.uuid4().hex[:8]}"
    (created,) = admin.create_topics([NewTopic(topic, 1, 1, config={"max.message.bytes": "2048"})]).values()
    created.result(timeout=30)
    try:
        sink = KafkaSink(settings)
        records = [(f"small-{i}", {"i": i}) for i in range(40)]
        records[17] = ("too-big-for-the-topic", {"x": base64.b64encode(os.urandom(6000)).decode()})  # incompressible
        records[29] = ("too-big-for-any-topic", {"x": "y" * 2_000_000})  # refused before it is sent
        refused = sink.send(topic, records)
        assert sorted(r.key for r in refused) == ["too-big-for-any-topic", "too-big-for-the-topic"]
        assert all("too large" in r.error for r in refused)
        assert sink.send(topic, [("after", {"i": 40})]) == []

        keys: list[str] = []
        for msg in read_since(settings, topic, 0, lambda: len(keys) >= 39, timeout=30):
            keys.append(msg.key().decode())
        assert sorted(keys) == sorted([k for k, _ in records if k.startswith("small-")] + ["after"])
    finally:
        for future in admin.delete_topics([topic]).values():
            future.result(timeout=30)
