from __future__ import annotations

import pytest

from flightdelay.settings import Settings


def test_every_listener_defaults_to_loopback(monkeypatch, tmp_path):
    for name in ("FLIGHTDELAY_BIND_HOST", "KAFKA_HOST", "MONGO_HOST", "HDFS_HOST", "WEB_HOST", "NIFI_HOST", "MONGO_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FLIGHTDELAY_VAR_DIR", str(tmp_path))  # no generated MongoDB login there yet
    s = Settings()
    assert s.bind_host == "127.0.0.1"
    assert s.kafka_bootstrap == "127.0.0.1:9092"
    assert s.mongo_uri == "mongodb://127.0.0.1:27017/"
    assert s.hdfs_uri == "hdfs://127.0.0.1:8020"
    assert s.web_host == "127.0.0.1"


def test_contract_defaults(monkeypatch):
    for name in ("REQUEST_TOPIC", "RESPONSE_TOPIC", "DEAD_LETTER_TOPIC", "MONGO_DATABASE"):
        monkeypatch.delenv(name, raising=False)
    s = Settings()
    assert s.topics == ("flask-ml-delays-request", "flask-ml-delays-responses", "flask-ml-delays-request-dlq",
                        "flight-delay-events")
    assert s.mongo_database == "agile_data_science"
    assert s.hdfs_predictions_path == "/user/predictions"


def test_environment_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv("KAFKA_PORT", "19092")
    monkeypatch.setenv("REQUEST_TOPIC", "other-requests")
    monkeypatch.setenv("FLIGHTDELAY_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("SPARK_WORKER_UI_PORTS", "9001, 9002,9003")
    s = Settings()
    assert s.kafka_bootstrap == "127.0.0.1:19092"
    assert s.request_topic == "other-requests"
    assert s.var_dir == tmp_path.resolve()
    assert s.secrets_dir == tmp_path.resolve() / "secrets"
    assert s.spark_worker_ui_ports == (9001, 9002, 9003)


def test_bad_integer_names_the_variable(monkeypatch):
    monkeypatch.setenv("MONGO_PORT", "twenty")
    with pytest.raises(ValueError, match="MONGO_PORT"):
        Settings()
