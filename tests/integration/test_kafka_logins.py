"""The real broker takes logins only: SCRAM-SHA-256 for the platform's user, nobody anonymous."""

from __future__ import annotations

import stat
import uuid

import pytest
from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient

from flightdelay import kafka_auth
from flightdelay.embedded.kafka import Kafka


def metadata(config: dict):
    return AdminClient({**config, "log_level": 0}).list_topics(timeout=5)


def test_an_anonymous_client_gets_nothing(settings):
    with pytest.raises(KafkaException):
        metadata({"bootstrap.servers": settings.kafka_bootstrap})


def test_a_wrong_password_gets_nothing(settings):
    with pytest.raises(KafkaException):
        metadata(kafka_auth.client_config(settings, **{"sasl.password": "not-the-password"}))


def test_an_anonymous_producer_delivers_nothing(settings):
    failures = []
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "message.timeout.ms": 5000, "log_level": 0})
    producer.produce(settings.dead_letter_topic, value=b"anonymous", on_delivery=lambda err, msg: failures.append(err))
    producer.flush(10)
    assert failures and failures[0] is not None


def test_the_platform_user_logs_in_and_produces(settings):
    assert settings.request_topic in metadata(kafka_auth.client_config(settings)).topics
    producer = Producer(kafka_auth.client_config(settings))
    producer.produce(settings.dead_letter_topic, key=str(uuid.uuid4()), value=b"logged in")
    assert producer.flush(15) == 0


def test_the_brokers_config_with_the_admin_login_is_private(settings):
    config = Kafka(settings).config_file
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    secrets_file = settings.secrets_dir / "kafka.json"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
