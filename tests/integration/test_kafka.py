from __future__ import annotations

import uuid

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from flightdelay import kafka_auth
from flightdelay.canary import find_by_key


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
    import time

    key = str(uuid.uuid4())
    before_ms = int(time.time() * 1000) - 5_000
    producer = Producer({**kafka_auth.client_config(settings), "enable.idempotence": True})
    producer.produce(settings.dead_letter_topic, key=key, value=b'{"recent": true}')
    assert producer.flush(10) == 0

    assert find_by_key(settings.dead_letter_topic, key, timeout=30, since_ms=before_ms) == b'{"recent": true}'
    # reading from after it was written, the record is not there
    later_ms = int(time.time() * 1000) + 60_000
    assert find_by_key(settings.dead_letter_topic, key, timeout=3, since_ms=later_ms) is None
