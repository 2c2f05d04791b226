from __future__ import annotations

import time
import uuid
from dataclasses import replace

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from flightdelay import kafka_auth
from flightdelay.canary import find_by_key
from flightdelay.scoring.small_batches import RecordGap, SmallBatchReader
from flightdelay.waiting import wait_until


def test_the_three_topics_exist(settings):
    topics = AdminClient(kafka_auth.client_config(settings)).list_topics(timeout=10).topics
    for name in (settings.request_topic, settings.response_topic, settings.dead_letter_topic):
        assert name in topics
        assert len(topics[name].partitions) == settings.topic_partitions


def test_produce_then_consume(settings):
    key = str(uuid.uuid4())
    producer = Producer({**kafka_auth.client_config(settings), "enable.idempotence": True})
    producer.produce(settings.dead_letter_topic, key=key, value=b'{"probe": true}')
    assert producer.flush(10) == 0

    value = find_by_key(settings.dead_letter_topic, key, timeout=60)
    assert value is not None, "the produced message never arrived"
    assert value == b'{"probe": true}'


def test_a_key_is_found_among_recent_records_without_scanning_the_topic(settings):
    key = str(uuid.uuid4())
    before_ms = int(time.time() * 1000) - 5_000
    producer = Producer({**kafka_auth.client_config(settings), "enable.idempotence": True})
    producer.produce(settings.dead_letter_topic, key=key, value=b'{"recent": true}')
    assert producer.flush(10) == 0

    assert find_by_key(settings.dead_letter_topic, key, timeout=30, since_ms=before_ms) == b'{"recent": true}'
    # reading from after it was written, the record is not there
    later_ms = int(time.time() * 1000) + 60_000
    assert find_by_key(settings.dead_letter_topic, key, timeout=3, since_ms=later_ms) is None


@pytest.fixture
def scratch_topic(settings):
    admin = AdminClient(kafka_auth.client_config(settings))
    topic = f"small-batches-scratch-{uuid.uuid4().hex[:8]}"
    (created,) = admin.create_topics([NewTopic(topic, 2, 1)]).values()
    created.result(timeout=30)
    yield topic
    for future in admin.delete_topics([topic]).values():
        future.result(timeout=30)


def test_a_small_batch_is_read_straight_from_kafka_every_offset_once(settings, scratch_topic):
    """The driver's read of a small micro-batch (scoring/small_batches.py) gives exactly the
    offsets Spark's batch holds, batch after batch, with records past a batch's end already
    fetched (as a busy topic has them)."""
    producer = Producer(kafka_auth.client_config(settings))
    for i in range(60):
        producer.produce(scratch_topic, value=f"request {i}".encode(), partition=i % 2)
    assert producer.flush(10) == 0
    reader = SmallBatchReader(replace(settings, request_topic=scratch_topic), lambda _: None, 500)
    try:
        taken: list[tuple] = []
        for start, end in ((0, 4), (4, 5), (5, 5), (5, 30)):
            records = reader.read({0: (start, end), 1: (start, min(end, 17))})
            assert [(r[4], r[5]) for r in records if r[4] == 0] == [(0, o) for o in range(start, end)]
            assert [(r[4], r[5]) for r in records if r[4] == 1] == [(1, o) for o in range(start, min(end, 17))]
            taken += records
        value, size, produced_us, topic, partition, offset = taken[0]
        assert (value, size, topic, partition, offset) == (b"request 0", 9, scratch_topic, 0, 0)
        assert abs(produced_us / 1e6 - time.time()) < 120
    finally:
        reader.close()


def test_a_gap_in_a_batchs_offsets_is_left_to_sparks_read(settings, scratch_topic):
    """A transaction's commit marker takes an offset that holds no record: the driver's read says
    so (RecordGap) and the scorer lets Spark's own read of the batch decide."""
    producer = Producer({**kafka_auth.client_config(settings), "transactional.id": f"gap-{uuid.uuid4().hex[:8]}"})
    producer.init_transactions(30)
    producer.begin_transaction()
    for i in range(3):
        producer.produce(scratch_topic, value=f"in a transaction {i}".encode(), partition=0)
    producer.commit_transaction(30)  # offsets 0-2, its marker at 3 (written soon after)
    watermarks = Consumer(kafka_auth.client_config(settings, **{"group.id": "gap-test"}))
    wait_until(lambda: None if watermarks.get_watermark_offsets(TopicPartition(scratch_topic, 0))[1] == 4 else "no",
               "the commit marker", timeout=30)  # fmt: skip
    watermarks.close()
    plain = Producer(kafka_auth.client_config(settings))
    plain.produce(scratch_topic, value=b"after the marker", partition=0)
    assert plain.flush(10) == 0
    reader = SmallBatchReader(replace(settings, request_topic=scratch_topic), lambda _: None, 500)
    try:
        assert [r[5] for r in reader.read({0: (0, 3)})] == [0, 1, 2]
        with pytest.raises(RecordGap, match="offset 4 came where 3 was due"):
            reader.read({0: (0, 5)})
        started = time.monotonic()
        with pytest.raises(RecordGap, match="no record at offset 3"):
            reader.read({0: (0, 4)})  # the batch ends with the marker
        assert time.monotonic() - started < 2  # told by the consumer's position, not by the timeout
    finally:
        reader.close()
