"""A managed background process with a pid file and a log: what every service row builds on.

A subclass says which command to run, which config files to write first, and how to ask the
running server whether it is healthy. This module does the rest: start it detached, record its
pid, wait for health, report memory, stop it gracefully and then by force, by its own pid. The
embedded platform's servers (flightdelay/embedded/) are such rows, and so is the streaming scorer
(flightdelay/ops/scorer.py), which the deploy DAG starts in either deployment.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

import psutil

from flightdelay.ops.errors import ServiceError
from flightdelay.ops.processes import port_open, tail, wait_gone
from flightdelay.settings import Settings
from flightdelay.waiting import WaitTimeout, wait_until


@dataclass
class ServiceStatus:
    name: str
    state: str  # "healthy", "unhealthy", "stopped", "failed" (the supervisor gave up on it)
    pid: int | None
    ports: list[int]
    memory_mb: float | None  # proportional (PSS) over its process tree
    detail: str = ""
    restarts: int = 0  # by the supervisor

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "state": self.state,
            "pid": self.pid,
            "ports": self.ports,
            "memory_mb": self.memory_mb,
            "detail": self.detail,
            "restarts": self.restarts,
        }


class Service:
    """One long-running server process of the embedded platform."""

    name: str = ""
    description: str = ""
    #: names of services that must be healthy before this one starts (and stop after it)
    depends_on: Sequence[str] = ()
    #: False for a service that `up` starts only when named
    autostart: bool = True
    start_timeout: float = 120.0
    stop_timeout: float = 30.0
    #: the graceful stop (PostgreSQL's SIGTERM waits for every client to leave: it takes SIGINT)
    stop_signal: signal.Signals = signal.SIGTERM
    #: its child processes are part of it (gunicorn and Airflow workers): counted and stopped with it
    owns_children: bool = True

    def __init__(self, settings: Settings):
        self.settings = settings

    # --- what a subclass says -------------------------------------------------------------
    def ports(self) -> list[int]:
        raise NotImplementedError

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> Mapping[str, str]:
        return {}

    def check_installed(self) -> None:
        """Raise NotInstalledError naming the missing artifact."""

    def prepare(self) -> None:
        """Write config files and do one-time initialisation (formatting) before start."""

    def probe(self) -> str | None:
        """Ask the running server whether it is healthy: None if it is, else what is wrong."""
        raise NotImplementedError

    def after_healthy(self) -> None:
        """Idempotent set-up that needs the running server (topics, directories)."""

    # --- paths ------------------------------------------------------------------------------
    @property
    def home(self) -> Path:
        return self.settings.var_dir / self.name

    @property
    def diagnostic_log(self) -> Path:
        """The log that explains a failed start (a service may log elsewhere than its stdout)."""
        return self.log_file

    @property
    def pid_file(self) -> Path:
        return self.settings.var_dir / "run" / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.settings.var_dir / "log" / f"{self.name}.log"

    # --- process ----------------------------------------------------------------------------
    def _recorded_pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def pid(self) -> int | None:
        """The pid of our running process, or None. A stale pid file stays until the next start,
        which stops what the dead process left behind (NiFi's Python children)."""
        pid = self._recorded_pid()
        if pid is None:
            return None
        try:
            proc = psutil.Process(pid)
            alive = proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
            # the pid file stores the start time too, so a recycled pid is not mistaken for ours
            marker = self._start_marker()
            if alive and marker is not None and abs(proc.create_time() - marker) > 2:
                alive = False
        except psutil.Error:
            alive = False
        return pid if alive else None

    @property
    def wanted_file(self) -> Path:
        """Present from `start` until a person's `stop`: the supervisor restarts only what is wanted."""
        return self.pid_file.with_suffix(".wanted")

    @property
    def wanted(self) -> bool:
        return self.wanted_file.exists()

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """One start or stop of this service at a time across processes (the supervisor, a DAG
        deploying the scorer, a person's `up`): never two instances, never a pid file half written."""
        lock = self.pid_file.with_suffix(".lock")
        lock.parent.mkdir(parents=True, exist_ok=True)
        with lock.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _clear_leftovers(self) -> None:
        """Kill what a dead instance left running in its process group (NiFi's Python processes
        outlive a SIGKILL of the JVM). Only processes working under var/ count: a recycled group id
        belongs to someone else."""
        old = self._recorded_pid()
        if old is None:
            return
        killed = []
        for proc in psutil.process_iter(["pid", "cwd"]):
            try:
                if os.getpgid(proc.pid) == old and (proc.info.get("cwd") or "").startswith(str(self.settings.var_dir)):
                    proc.kill()
                    killed.append(proc)
            except (ProcessLookupError, psutil.Error):
                pass
        # gone before the successor starts: PostgreSQL refuses to start while an old backend lives
        wait_gone(killed, timeout=10)
        self.pid_file.unlink(missing_ok=True)
        self._marker_file.unlink(missing_ok=True)

    @property
    def _marker_file(self) -> Path:
        return self.pid_file.with_suffix(".started")

    def _start_marker(self) -> float | None:
        try:
            return float(self._marker_file.read_text())
        except (FileNotFoundError, ValueError):
            return None

    def memory_mb(self) -> float | None:
        """Memory of the process and its children (Airflow and gunicorn fork workers)."""
        pid = self.pid()
        if pid is None:
            return None
        try:
            proc = psutil.Process(pid)
            total = 0
            for member in (proc, *(proc.children(recursive=True) if self.owns_children else ())):
                try:
                    total += self.memory_of(member)
                except psutil.Error:
                    pass
        except psutil.Error:
            return None
        return round(total / 2**20, 1)

    def memory_of(self, proc: psutil.Process) -> int:
        """Bytes one of the service's processes counts for: its proportional set size, each shared
        page split among the processes that map it. Resident sizes summed over a tree count a page
        once per process: PostgreSQL's shared buffers in each of ~60 backends, the copy-on-write
        pages of Airflow's forked workers in each worker (the scheduler: 761 MiB resident, 330 MiB
        proportional, with its four idle workers). Resident size where PSS may not be read."""
        try:
            return proc.memory_full_info().pss
        except psutil.AccessDenied:
            return proc.memory_info().rss

    def health(self) -> str | None:
        try:
            return self.probe()
        except Exception as exc:  # a probe talks to a server that may be half up
            return f"{type(exc).__name__}: {exc}"

    def status(self) -> ServiceStatus:
        pid = self.pid()
        if pid is None:
            return ServiceStatus(self.name, "stopped", None, self.ports(), None)
        problem = self.health()
        state = "healthy" if problem is None else "unhealthy"
        return ServiceStatus(self.name, state, pid, self.ports(), self.memory_mb(), problem or "")

    def start_with_platform(self, log: Callable[[str], None] = print) -> bool:
        """``start`` as part of the whole platform's `up` (a service may decide it is not due)."""
        return self.start(log)

    def start(self, log: Callable[[str], None] = print) -> bool:
        """Start unless already running and healthy. Returns True if a process was started."""
        self.wanted_file.parent.mkdir(parents=True, exist_ok=True)
        self.wanted_file.touch()
        return self._bring_up(log)

    def launch(self, log: Callable[[str], None] = print) -> bool:
        """``start`` without the wait for health (a DAG's sensor waits, in reschedule mode, so no
        worker slot sleeps). Returns True if a process was started."""
        self.wanted_file.parent.mkdir(parents=True, exist_ok=True)
        self.wanted_file.touch()
        with self._exclusive():
            return self.pid() is None and self._spawn(log) is not None

    def recover(self, seen_pid: int | None, log: Callable[[str], None] = print) -> bool:
        """The supervisor's restart of the process it found dead or hung (``seen_pid``; None:
        dead). Nothing happens if a person stopped the service since, or someone else already
        started a new process. Returns True if it started one."""
        with self._exclusive():
            current = self.pid()
            if not self.wanted or (current is not None and current != seen_pid):
                return False
            if current is not None:
                self._terminate(log)
            proc = self._spawn(log)
        self.wait_healthy(log, proc)
        self.after_healthy()
        return True

    def busy(self) -> bool:
        """Someone (another process, or another thread here) is starting or stopping it now."""
        lock = self.pid_file.with_suffix(".lock")
        if not lock.exists():
            return False
        with lock.open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False

    def _bring_up(self, log: Callable[[str], None]) -> bool:
        with self._exclusive():
            proc = None if self.pid() is not None else self._spawn(log)
        self.wait_healthy(log, proc)
        self.after_healthy()
        return proc is not None

    def _spawn(self, log: Callable[[str], None]) -> subprocess.Popen:
        self._clear_leftovers()
        self.check_installed()
        for port in self.ports():
            if port_open(self.settings.bind_host, port):
                raise ServiceError(
                    f"{self.name}: port {port} is already taken by a process that is not ours "
                    f"(see `ss -ltnp 'sport = :{port}'`)"
                )
        self.home.mkdir(parents=True, exist_ok=True)
        self.prepare()
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.environment()}
        with self.log_file.open("ab") as log_handle:
            log_handle.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {self.name}\n".encode())
            log_handle.flush()
            proc = subprocess.Popen(
                self.command(),
                cwd=self.home,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log_handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: `down` can stop it and its children
            )
        self._marker_file.write_text(str(psutil.Process(proc.pid).create_time()))
        self.pid_file.write_text(f"{proc.pid}\n")
        log(f"  {self.name}: started (pid {proc.pid}), waiting for health")
        return proc

    def wait_healthy(self, log: Callable[[str], None] = print, proc: subprocess.Popen | None = None) -> None:
        started = time.monotonic()

        def problem() -> str | None:
            if proc is not None and proc.poll() is not None:
                raise ServiceError(
                    f"{self.name} exited with code {proc.returncode} during start; end of "
                    f"{self.diagnostic_log}:\n{tail(self.diagnostic_log)}"
                )
            if proc is None and self.pid() is None:
                raise ServiceError(f"{self.name} is not running; end of {self.log_file}:\n{tail(self.log_file)}")
            return self.health()

        try:
            wait_until(problem, f"{self.name} to be healthy", timeout=self.start_timeout, interval=1.0)
        except WaitTimeout as exc:
            raise ServiceError(f"{exc}; end of {self.log_file}:\n{tail(self.log_file)}") from exc
        log(f"  {self.name}: healthy after {time.monotonic() - started:.1f}s")

    def stop(self, log: Callable[[str], None] = print) -> bool:
        """A person's stop: no longer wanted (the supervisor leaves it down), then terminated."""
        self.wanted_file.unlink(missing_ok=True)
        return self.terminate(log)

    def terminate(self, log: Callable[[str], None] = print) -> bool:
        """Stop gracefully (``stop_signal``), then by force (SIGKILL to its process group)."""
        with self._exclusive():
            return self._terminate(log)

    def _terminate(self, log: Callable[[str], None]) -> bool:
        pid = self.pid()
        if pid is None:
            self._clear_leftovers()
            return False
        try:
            proc = psutil.Process(pid)
            children = proc.children(recursive=True) if self.owns_children else []
            proc.send_signal(self.stop_signal)
            try:
                proc.wait(self.stop_timeout)
            except psutil.TimeoutExpired:
                log(f"  {self.name}: no exit after {self.stop_timeout:.0f}s, killing")
                _kill_group(pid)
                proc.wait(10)
            # workers it forked that outlived it (LocalExecutor, gunicorn) belong to us too
            for child in wait_gone(children, timeout=5):
                child.kill()
        except psutil.NoSuchProcess:
            pass
        self._wait_ports_closed(log)
        self.pid_file.unlink(missing_ok=True)
        self._marker_file.unlink(missing_ok=True)
        log(f"  {self.name}: stopped")
        return True

    def _wait_ports_closed(self, log: Callable[[str], None], timeout: float = 15.0) -> None:
        """A process's last threads may hold its ports a moment after it exited: a start right
        after stop would otherwise find them taken."""
        def open_ports() -> str | None:
            still_open = [port for port in self.ports() if port_open(self.settings.bind_host, port)]
            return f"ports {still_open} open" if still_open else None

        try:
            wait_until(open_ports, f"{self.name}'s ports to close", timeout=timeout, interval=0.1)
        except WaitTimeout:
            log(f"  {self.name}: {open_ports()} {timeout:.0f}s after it stopped")


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
