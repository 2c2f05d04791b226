from __future__ import annotations

import uuid

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient


def test_the_three_topics_exist(settings):
    topics = AdminClient({"bootstrap.servers": settings.kafka_bootstrap}).list_topics(timeout=10).topics
    for name in (settings.request_topic, settings.response_topic, settings.dead_letter_topic):
        assert name in topics
        assert len(topics[name].partitions) == settings.topic_partitions


def test_produce_then_consume(settings):
    key = str(uuid.uuid4())
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "enable.idempotence": True})
    producer.produce(settings.dead_letter_topic, key=key, value=b'{"probe": true}')
    assert producer.flush(10) == 0

    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"test-{key}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([settings.dead_letter_topic])
    try:
        found = None
        for _ in range(60):
            msg = consumer.poll(1.0)
            if msg is not None and not msg.error() and msg.key() == key.encode():
                found = msg
                break
        assert found is not None, "the produced message never arrived"
        assert found.value() == b'{"probe": true}'
    finally:
        consumer.close()
