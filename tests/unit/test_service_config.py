"""Generated configuration: loopback binding, replication 1, secrets kept private."""

from __future__ import annotations

import json
import stat
import xml.etree.ElementTree as ET

import pytest

from flightdelay.embedded.airflow import airflow_environment
from flightdelay.embedded.hdfs import NameNode
from flightdelay.embedded.kafka import Kafka
from flightdelay.settings import Settings


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    monkeypatch.setenv("FLIGHTDELAY_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("AIRFLOW_PASSWORD", raising=False)
    return Settings()


def test_kafka_listens_on_loopback_and_never_auto_creates_topics(settings):
    props = dict(
        line.split("=", 1) for line in Kafka(settings).server_properties().splitlines() if "=" in line
    )
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert props["process.roles"] == "broker,controller"
    assert props["auto.create.topics.enable"] == "false"
    assert props["offsets.topic.replication.factor"] == "1"


def test_hdfs_binds_loopback_with_replication_one(settings):
    node = NameNode(settings)
    node.write_config()
    root = ET.parse(node.conf_dir / "hdfs-site.xml").getroot()
    props = {p.findtext("name"): p.findtext("value") for p in root}
    assert props["dfs.replication"] == "1"
    assert props["dfs.webhdfs.enabled"] == "true"
    assert props["dfs.namenode.http-address"] == "127.0.0.1:9870"
    assert props["dfs.datanode.address"] == "127.0.0.1:9866"
    assert props["dfs.datanode.hostname"] == "127.0.0.1"


def test_airflow_secrets_are_generated_once_and_private(settings):
    env = airflow_environment(settings)
    secrets_file = settings.secrets_dir / "airflow.json"
    passwords_file = settings.secrets_dir / "airflow-passwords.json"
    for path in (secrets_file, passwords_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = json.loads(secrets_file.read_text())
    assert json.loads(passwords_file.read_text()) == {"admin": stored["password"]}
    assert len(stored["password"]) >= 12
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == stored["jwt_secret"]
    # a second call reuses what the first generated
    assert airflow_environment(settings)["AIRFLOW__CORE__FERNET_KEY"] == env["AIRFLOW__CORE__FERNET_KEY"]


def test_airflow_connections_come_from_settings(settings):
    env = airflow_environment(settings)
    spark = json.loads(env["AIRFLOW_CONN_SPARK_DEFAULT"])
    assert (spark["host"], spark["port"]) == ("spark://127.0.0.1", 7077)
    kafka = json.loads(env["AIRFLOW_CONN_KAFKA_DEFAULT"])
    assert kafka["extra"]["bootstrap.servers"] == "127.0.0.1:9092"
    mongo = json.loads(env["AIRFLOW_CONN_MONGO_DEFAULT"])
    assert (mongo["host"], mongo["port"], mongo["schema"]) == ("127.0.0.1", 27017, "agile_data_science")
    webhdfs = json.loads(env["AIRFLOW_CONN_WEBHDFS_DEFAULT"])
    assert (webhdfs["host"], webhdfs["port"]) == ("127.0.0.1", 9870)
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1"
