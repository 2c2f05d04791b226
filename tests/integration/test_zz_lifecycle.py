"""Restart and shutdown of the platform. Named to run last: it stops services."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import psutil
from confluent_kafka import Producer
from hdfs import InsecureClient
from pymongo import MongoClient

from flightdelay import kafka_auth
from flightdelay.canary import find_by_key
from flightdelay.embedded import platform
from flightdelay.store import postgres

DATA_SERVICES = ["postgres", "ferretdb", "kafka", "hdfs-namenode", "hdfs-datanode"]


def quiet(_line: str) -> None:
    pass


def _airflow_runs(settings) -> int:
    with postgres.connect(settings, postgres.AIRFLOW) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM dag_run")
        return cursor.fetchone()[0]


def test_down_then_up_keeps_kafka_hdfs_mongo_and_airflow_data(settings):
    marker = uuid.uuid4().hex
    airflow_runs = _airflow_runs(settings)
    assert airflow_runs > 0, "the DAG runs of the earlier tests should be in Airflow's database"
    producer = Producer(kafka_auth.client_config(settings))
    producer.produce(settings.dead_letter_topic, key=marker, value=marker.encode())
    assert producer.flush(10) == 0
    hdfs = InsecureClient(settings.webhdfs_url, user=settings.hdfs_user)
    hdfs.write(f"/tmp/restart/{marker}", data=marker, encoding="utf-8")
    with MongoClient(settings.mongo_uri) as client:
        client["integration_tests"]["restart"].insert_one({"_id": marker})

    platform.down(DATA_SERVICES, log=quiet)
    assert all(s.state == "stopped" for s in platform.status(DATA_SERVICES))
    platform.up(DATA_SERVICES, log=quiet)

    with hdfs.read(f"/tmp/restart/{marker}", encoding="utf-8") as reader:
        assert reader.read() == marker
    with MongoClient(settings.mongo_uri) as client:
        assert client["integration_tests"]["restart"].find_one({"_id": marker}) == {"_id": marker}
    assert _airflow_runs(settings) == airflow_runs
    seen = find_by_key(settings.dead_letter_topic, marker, timeout=60)
    assert seen == marker.encode(), "the Kafka message did not survive the restart"


def test_jvm_services_map_the_class_archive_they_wrote_as_they_stopped(settings):
    """The restart above: each JVM wrote its classes as it stopped (or had them from an earlier
    stop), and the new process maps that archive (flightdelay/ops/jvm.py)."""
    for service in platform.status(["kafka", "hdfs-namenode", "hdfs-datanode"]):
        maps = Path(f"/proc/{service.pid}/maps").read_text()
        mapped = {line.split()[-1] for line in maps.splitlines() if line.endswith(".jsa")}
        ours = [path for path in mapped if path.startswith(f"{settings.var_dir}/cds/{service.name}-")]
        assert ours, f"{service.name} (pid {service.pid}) maps no class archive of its own: {sorted(mapped)}"


def _our_processes(var_dir: Path) -> list[str]:
    """Every service runs in a folder under var/, and so do the processes it forks."""
    found = []
    for proc in psutil.process_iter(["pid", "name", "cwd"]):
        cwd = proc.info.get("cwd") or ""
        if cwd.startswith(str(var_dir)):
            found.append(f"{proc.info['pid']} {proc.info['name']} in {cwd}")
    return found


def test_down_leaves_no_process_of_ours(settings):
    assert _our_processes(settings.var_dir), "the platform should be running before this test"
    platform.down(log=quiet)
    assert all(s.state == "stopped" for s in platform.status())
    assert _our_processes(settings.var_dir) == []
    if not os.environ.get("CI"):
        platform.up(log=quiet)  # leave a developer's platform as it was
