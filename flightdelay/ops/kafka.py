"""Kafka as the platform uses it: the admin client, the platform's topics and SCRAM user, and the
broker's health. Client logins are in flightdelay/kafka_auth.py."""

from __future__ import annotations

from confluent_kafka.admin import AdminClient, NewTopic

from flightdelay import kafka_auth
from flightdelay.ops.errors import ServiceError
from flightdelay.settings import Settings


def admin(settings: Settings) -> AdminClient:
    # log_level 0: "connection refused" while the broker starts is expected, not worth a line
    return AdminClient(kafka_auth.admin_config(settings, **{"socket.timeout.ms": 3000, "log_level": 0}))


def broker_problem(settings: Settings) -> str | None:
    """Health of the broker: None when the cluster metadata lists a broker."""
    if not admin(settings).list_topics(timeout=2).brokers:
        return "no broker in the cluster metadata"
    return None


def ensure_topics(client: AdminClient, topics, partitions: int) -> list[str]:
    """Create the topics that do not exist yet; returns the ones created."""
    existing = set(client.list_topics(timeout=10).topics)
    missing = [t for t in topics if t not in existing]
    if not missing:
        return []
    futures = client.create_topics([NewTopic(t, num_partitions=partitions, replication_factor=1) for t in missing])
    for topic, future in futures.items():
        try:
            future.result(timeout=30)
        except Exception as exc:  # TOPIC_ALREADY_EXISTS when two callers race is fine
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise ServiceError(f"cannot create topic {topic}: {exc}") from exc
    return missing


def ensure_platform_topics(settings: Settings) -> tuple[bool, list[str]]:
    """The platform user's SCRAM login and the request, response and dead-letter topics; returns
    whether the user was created and which topics were."""
    user_created = kafka_auth.ensure_scram_user(settings)
    return user_created, ensure_topics(admin(settings), settings.topics, settings.topic_partitions)
