"""The process management every embedded service shares, on a real tiny HTTP server."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time

import psutil
import pytest
import requests

from flightdelay.ops.errors import ServiceError
from flightdelay.ops.service import Service
from flightdelay.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class HttpService(Service):
    name = "http-test"
    start_timeout = 20.0
    stop_timeout = 5.0

    def __init__(self, settings: Settings, port: int, argv: list[str] | None = None):
        super().__init__(settings)
        self.port = port
        self.argv = argv

    def ports(self) -> list[int]:
        return [self.port]

    def command(self) -> list[str]:
        return self.argv or [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(self.port)]

    def probe(self) -> str | None:
        reply = requests.get(f"http://127.0.0.1:{self.port}/", timeout=1)
        return None if reply.status_code == 200 else f"HTTP {reply.status_code}"


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    monkeypatch.setenv("FLIGHTDELAY_VAR_DIR", str(tmp_path / "var"))
    return Settings()


@pytest.fixture
def service(settings):
    svc = HttpService(settings, free_port())
    yield svc
    svc.stop(log=lambda _: None)


def test_start_status_stop(service):
    assert service.start(log=lambda _: None) is True
    status = service.status()
    assert status.state == "healthy"
    assert status.pid == service.pid()
    assert status.memory_mb and status.memory_mb > 1
    pid = status.pid

    assert service.stop(log=lambda _: None) is True
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert service.status().state == "stopped"
    assert not service.pid_file.exists()


def test_second_start_changes_nothing(service):
    service.start(log=lambda _: None)
    pid = service.pid()
    assert service.start(log=lambda _: None) is False
    assert service.pid() == pid


def test_launch_starts_without_waiting_and_only_once(service):
    assert service.launch(log=lambda _: None) is True
    pid = service.pid()
    assert pid is not None and service.wanted
    assert service.launch(log=lambda _: None) is False  # running (healthy or not yet): left alone
    assert service.pid() == pid
    service.wait_healthy(log=lambda _: None)
    assert service.status().state == "healthy"


def test_stale_pid_file_is_recovered(service):
    service.pid_file.parent.mkdir(parents=True, exist_ok=True)
    dead = psutil.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    service.pid_file.write_text(f"{dead.pid}\n")
    assert service.pid() is None
    assert service.start(log=lambda _: None) is True
    assert service.status().state == "healthy"


def test_recycled_pid_is_not_taken_for_ours(service):
    service.pid_file.parent.mkdir(parents=True, exist_ok=True)
    other = psutil.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        service.pid_file.write_text(f"{other.pid}\n")
        service.pid_file.with_suffix(".started").write_text(str(time.time() - 3600))
        assert service.pid() is None
        assert other.is_running()  # never stopped: it is not ours
    finally:
        other.kill()


def test_crash_at_start_names_service_and_shows_log(settings):
    svc = HttpService(
        settings, free_port(), [sys.executable, "-c", "import sys; print('boom: bad config'); sys.exit(3)"]
    )
    with pytest.raises(ServiceError) as err:
        svc.start(log=lambda _: None)
    assert "http-test exited with code 3" in str(err.value)
    assert "boom: bad config" in str(err.value)


def test_port_taken_by_someone_else(settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        svc = HttpService(settings, sock.getsockname()[1])
        with pytest.raises(ServiceError, match="already taken"):
            svc.start(log=lambda _: None)


def test_wanted_from_start_until_a_persons_stop(service):
    service.start(log=lambda _: None)
    assert service.wanted
    service.terminate(log=lambda _: None)  # the supervisor's stop of a hung process
    assert service.wanted
    service.stop(log=lambda _: None)
    assert not service.wanted
    assert service.recover(None, log=lambda _: None) is False  # nothing brings back what a person stopped
    assert service.pid() is None


def test_recover_brings_back_a_killed_service(service):
    service.start(log=lambda _: None)
    os.kill(service.pid(), signal.SIGKILL)
    time.sleep(0.2)
    assert service.pid() is None
    assert service.recover(None, log=lambda _: None) is True
    assert service.status().state == "healthy"


def test_recover_leaves_a_process_someone_else_started_meanwhile(service):
    service.start(log=lambda _: None)
    dead_or_hung = 999_999
    current = service.pid()
    assert service.recover(dead_or_hung, log=lambda _: None) is False
    assert service.pid() == current


def test_recover_replaces_the_hung_process_it_saw(service):
    service.start(log=lambda _: None)
    hung = service.pid()
    assert service.recover(hung, log=lambda _: None) is True
    assert service.pid() not in (None, hung)


def test_busy_while_someone_holds_the_start_lock(service):
    assert not service.busy()
    with service._exclusive():
        assert service.busy()
    assert not service.busy()


FORKS_A_CHILD = """
import subprocess, sys, http.server
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
http.server.test(HandlerClass=http.server.SimpleHTTPRequestHandler, bind="127.0.0.1", port=int(sys.argv[1]))
"""


def test_what_a_killed_instance_left_behind_is_stopped_before_the_next(settings):
    port = free_port()
    svc = HttpService(settings, port, [sys.executable, "-c", FORKS_A_CHILD, str(port)])
    try:
        svc.start(log=lambda _: None)
        (child,) = psutil.Process(svc.pid()).children()
        os.kill(svc.pid(), signal.SIGKILL)  # the child lives on, as NiFi's Python processes do
        time.sleep(0.2)
        assert child.is_running()
        svc.recover(None, log=lambda _: None)
        child.wait(5)
        assert not child.is_running()
    finally:
        svc.stop(log=lambda _: None)
