"""Kafka logins, without a broker: what the broker is told and what every client sends."""

from __future__ import annotations

import stat

import pytest

from flightdelay import kafka_auth
from flightdelay.embedded.kafka import Kafka
from flightdelay.settings import Settings


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    monkeypatch.setenv("FLIGHTDELAY_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("KAFKA_PASSWORD", raising=False)
    monkeypatch.delenv("KAFKA_USER", raising=False)
    return Settings()


def broker_properties(settings) -> dict[str, str]:
    text = Kafka(settings).server_properties()
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def test_every_listener_takes_logins_only(settings):
    props = broker_properties(settings)
    assert props["listeners"] == "CLIENT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert props["listener.security.protocol.map"] == "CONTROLLER:SASL_PLAINTEXT,CLIENT:SASL_PLAINTEXT"
    assert "PLAINTEXT://" not in props["listeners"] + props["advertised.listeners"]
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-256,PLAIN"


def test_clients_log_in_with_scram_and_a_generated_password(settings):
    config = kafka_auth.client_config(settings, **{"group.id": "g"})
    assert config["security.protocol"] == "SASL_PLAINTEXT"
    assert config["sasl.mechanism"] == "SCRAM-SHA-256"
    assert config["sasl.username"] == "flightdelay"
    assert len(config["sasl.password"]) >= 20
    assert config["group.id"] == "g"
    secrets_file = settings.secrets_dir / "kafka.json"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    assert kafka_auth.client_config(settings)["sasl.password"] == config["sasl.password"]  # stable
    assert settings.kafka_login_password == config["sasl.password"]


def test_the_admin_login_is_separate_and_in_the_brokers_config(settings):
    admin = kafka_auth.admin_config(settings)
    assert admin["sasl.mechanism"] == "PLAIN" and admin["sasl.username"] == "admin"
    assert admin["sasl.password"] != kafka_auth.client_config(settings)["sasl.password"]
    props = broker_properties(settings)
    assert f'user_admin="{admin["sasl.password"]}"' in props["listener.name.controller.plain.sasl.jaas.config"]
    # the platform user's password is not in the broker's config: SCRAM keeps only a salted hash
    assert kafka_auth.client_config(settings)["sasl.password"] not in Kafka(settings).server_properties()


def test_a_chosen_password_wins(settings, monkeypatch):
    monkeypatch.setenv("KAFKA_PASSWORD", "chosen-one")
    chosen = Settings()
    assert kafka_auth.client_config(chosen)["sasl.password"] == "chosen-one"
    assert "chosen-one" in kafka_auth.java_client_options(chosen, "kafka.")["kafka.sasl.jaas.config"]


@pytest.mark.parametrize("bad", ['pa"ss', "back\\slash"])
def test_a_password_that_would_break_the_jaas_line_is_refused(bad):
    with pytest.raises(ValueError, match="quotes or backslashes"):
        kafka_auth.jaas(kafka_auth.SCRAM_MODULE, "flightdelay", bad)
