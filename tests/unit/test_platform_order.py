from __future__ import annotations

import pytest

from flightdelay.embedded import platform
from flightdelay.ops.errors import ServiceError
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


class FakeService:
    """What start_when_ready uses of a Service: name, dependencies, start."""

    def __init__(self, name, depends_on=(), fails=False, seconds=0.0, record=None):
        self.name, self.depends_on, self.fails, self.seconds = name, depends_on, fails, seconds
        self.record = record if record is not None else []

    def start(self, log):
        import time

        self.record.append(("start", self.name))
        time.sleep(self.seconds)
        if self.fails:
            raise ServiceError("broken")
        self.record.append(("healthy", self.name))
        return True

    start_with_platform = start


def test_a_service_starts_once_its_own_dependencies_are_healthy_not_a_whole_wave():
    record: list = []
    slow = FakeService("slow", seconds=0.3, record=record)
    quick = FakeService("quick", record=record)
    after_quick = FakeService("after-quick", depends_on=("quick",), record=record)
    after_slow = FakeService("after-slow", depends_on=("slow",), record=record)
    platform.start_when_ready([slow, quick, after_quick, after_slow], log=lambda line: None)
    assert record.index(("start", "after-quick")) < record.index(("healthy", "slow"))
    assert record.index(("healthy", "slow")) < record.index(("start", "after-slow"))


def test_a_failed_service_keeps_its_dependants_from_starting_and_all_failures_are_named():
    record: list = []
    services = [FakeService("db", fails=True, record=record), FakeService("app", depends_on=("db",), record=record),
                FakeService("other", fails=True, record=record)]  # fmt: skip
    with pytest.raises(ServiceError) as failure:
        platform.start_when_ready(services, log=lambda line: None)
    assert ("start", "app") not in record
    assert "db: broken" in str(failure.value) and "other: broken" in str(failure.value)
    assert "app: not started: db did not start" in str(failure.value)
