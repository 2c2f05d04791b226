from __future__ import annotations

import pytest

from flightdelay.embedded import platform
from flightdelay.embedded.base import ServiceError
from flightdelay.settings import Settings


@pytest.fixture
def services(tmp_path, monkeypatch):
    monkeypatch.setenv("FLIGHTDELAY_VAR_DIR", str(tmp_path))
    return platform.all_services(Settings())


def test_every_dependency_starts_in_an_earlier_wave(services):
    seen: set[str] = set()
    for wave in platform.waves(services):
        for svc in wave:
            assert set(svc.depends_on) <= seen, f"{svc.name} starts before {svc.depends_on}"
        seen.update(s.name for s in wave)
    assert seen == {s.name for s in services}


def test_the_platform_has_the_services_the_design_names(services):
    names = {s.name for s in services}
    assert {
        "kafka", "ferretdb", "hdfs-namenode", "hdfs-datanode", "spark-master", "spark-worker-1",
        "spark-worker-2", "airflow-api-server", "airflow-scheduler", "airflow-dag-processor",
        "airflow-triggerer",
    } <= names  # fmt: skip


def test_selecting_a_service_brings_its_dependencies(services):
    chosen = {s.name for s in platform.select(services, ["hdfs-datanode"])}
    assert chosen == {"hdfs-datanode", "hdfs-namenode"}


def test_unknown_service_is_named(services):
    with pytest.raises(ServiceError, match="nosuch"):
        platform.select(services, ["nosuch"])


def test_ports_are_distinct(services):
    ports = [p for s in services for p in s.ports()]
    assert len(ports) == len(set(ports))


def test_stopping_a_service_stops_its_dependants_only(services):
    stopped = {s.name for s in platform.dependants(services, ["hdfs-namenode"])}
    assert {"hdfs-namenode", "hdfs-datanode", "score-stream"} <= stopped
    assert "kafka" not in stopped and "ferretdb" not in stopped
    assert {s.name for s in platform.dependants(services, ["score-stream"])} == {"score-stream"}
