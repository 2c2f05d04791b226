"""Kafka logins: every client of the platform's broker authenticates with SASL/SCRAM-SHA-256.

The broker's client listener takes two mechanisms:
- SCRAM-SHA-256 for the platform's user (``KAFKA_USER``, default ``flightdelay``): the web, the
  scorer (Spark's Kafka source and the answers it produces), NiFi's consumer, Airflow's connection,
  the canary and the tests. SCRAM credentials live in the cluster's metadata, so the broker is
  told about them through the admin API once it runs (``ensure_scram_user``);
- PLAIN for one admin user whose password is only in the broker's own config (server.properties,
  0600): it exists so that ``ensure_scram_user`` can log in before any SCRAM user exists, on a new
  cluster or on one formatted before logins. The controller listener takes the same admin login.

Passwords are generated into ``var/secrets/kafka.json`` (0600); ``KAFKA_PASSWORD`` chooses the
platform user's. Nothing here prints them, and they never go on a command line.
"""

from __future__ import annotations

from typing import Any

from flightdelay.secrets import generated_secrets, new_password
from flightdelay.settings import Settings

SECURITY_PROTOCOL = "SASL_PLAINTEXT"  # loopback only; TLS would add nothing the kernel does not
MECHANISM = "SCRAM-SHA-256"
ADMIN_USER = "admin"
SCRAM_ITERATIONS = 8192


def secrets(settings: Settings) -> dict[str, str]:
    return generated_secrets(
        settings.secrets_dir / "kafka.json",
        {"password": new_password, "admin_password": new_password},
        configured={"password": settings.kafka_password, "admin_password": settings.kafka_admin_password},
    )


def client_config(settings: Settings, **extra: Any) -> dict[str, Any]:
    """A confluent-kafka (librdkafka) configuration that reaches and logs in to the broker."""
    return {
        "bootstrap.servers": settings.kafka_bootstrap,
        "security.protocol": SECURITY_PROTOCOL,
        "sasl.mechanism": MECHANISM,
        "sasl.username": settings.kafka_user,
        "sasl.password": secrets(settings)["password"],
        **extra,
    }


def admin_config(settings: Settings, **extra: Any) -> dict[str, Any]:
    """The broker admin's PLAIN login: only for creating the SCRAM user."""
    return {
        "bootstrap.servers": settings.kafka_bootstrap,
        "security.protocol": SECURITY_PROTOCOL,
        "sasl.mechanism": "PLAIN",
        "sasl.username": ADMIN_USER,
        "sasl.password": secrets(settings)["admin_password"],
        **extra,
    }


def jaas(module: str, user: str, password: str, **server_users: str) -> str:
    """A JAAS line; quotes and backslashes cannot occur in generated passwords, but are refused
    here for chosen ones rather than silently breaking the broker's config."""
    for value in (user, password, *server_users.values()):
        if '"' in value or "\\" in value:
            raise ValueError("Kafka user names and passwords cannot contain quotes or backslashes")
    users = "".join(f' user_{name}="{pw}"' for name, pw in server_users.items())
    return f'{module} required username="{user}" password="{password}"{users};'


SCRAM_MODULE = "org.apache.kafka.common.security.scram.ScramLoginModule"
PLAIN_MODULE = "org.apache.kafka.common.security.plain.PlainLoginModule"


def java_client_options(settings: Settings, prefix: str = "") -> dict[str, str]:
    """The same login for a Java Kafka client (Spark's Kafka source: prefix ``kafka.``)."""
    return {
        f"{prefix}bootstrap.servers": settings.kafka_bootstrap,
        f"{prefix}security.protocol": SECURITY_PROTOCOL,
        f"{prefix}sasl.mechanism": MECHANISM,
        f"{prefix}sasl.jaas.config": jaas(SCRAM_MODULE, settings.kafka_user, secrets(settings)["password"]),
    }


def ensure_scram_user(settings: Settings) -> bool:
    """Give the broker the platform user's SCRAM credential (again, if the password changed).
    Returns True when it was created or changed."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import (
        AdminClient,
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialUpsertion,
    )

    if _scram_login_works(settings):
        return False
    admin = AdminClient(admin_config(settings, log_level=0))
    upsert = UserScramCredentialUpsertion(
        settings.kafka_user,
        ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, SCRAM_ITERATIONS),
        secrets(settings)["password"].encode(),
    )
    for future in admin.alter_user_scram_credentials([upsert]).values():
        try:
            future.result(timeout=30)
        except KafkaException as exc:
            raise RuntimeError(f"cannot store Kafka user {settings.kafka_user}'s SCRAM credential: {exc}") from exc
    return True


def _scram_login_works(settings: Settings) -> bool:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    try:
        AdminClient(client_config(settings, log_level=0)).list_topics(timeout=5)
        return True
    except KafkaException:
        return False
