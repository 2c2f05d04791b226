"""The supervisor: one background process that brings back a service that died or stopped answering.

`flightdelay up` leaves it running (var/run/supervisor.pid, var/log/supervisor.log); `down` stops
it first, so nothing restarts what a person stopped. It watches every *wanted* service (one that
was started and not stopped by a person, see `Service.wanted`):

- liveness every second (the pid is alive), the service's own health probe every few seconds;
- a dead process, or ``FAILED_PROBES_TO_RESTART`` failed probes in a row once it had been healthy
  (or after its start timeout), means a restart;
- a restart waits until every service it depends on is healthy (so the scorer comes back after
  Kafka, MongoDB or HDFS, never before), then waits out a backoff that doubles from 1 s to 60 s and
  resets once the service has stayed healthy for a minute;
- ``GIVE_UP_AFTER`` restarts within ``GIVE_UP_WINDOW_S`` mark it `failed` and leave it alone (its
  log tail shows in `status`) until a person runs `flightdelay up`.

Why our own loop rather than supervisord or process-compose (see the README): the services are
already rows with a health probe, a dependency list and a start that waits for health; what
matters here is health-gated order and restart policy, and both tools would need a second
description of the same dependency graph (process-compose is also not on any registry we can
install from). This module adds only the policy on top of the rows.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psutil

from flightdelay.ops.errors import ServiceError
from flightdelay.ops.processes import tail
from flightdelay.ops.service import Service
from flightdelay.scoring.recovery import first_line
from flightdelay.secrets import write_private
from flightdelay.settings import Settings, get_settings

FAILED_PROBES_TO_RESTART = 3
PROBE_EVERY_S = 5.0
TICK_S = 1.0
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 60.0
STEADY_AFTER_S = 60.0
GIVE_UP_AFTER = 5
GIVE_UP_WINDOW_S = 600.0
#: a status older than this means the supervisor is hung or gone
STALE_AFTER_S = 20.0


@dataclass
class Watch:
    """What the supervisor knows about one service."""

    name: str
    state: str = "watching"  # watching | restarting | waiting | failed
    restarts: int = 0
    recent: deque = field(default_factory=deque)  # monotonic times of recent restarts
    backoff: float = BACKOFF_FIRST_S
    not_before: float = 0.0
    failed_probes: int = 0
    healthy_pid: int | None = None  # the process last seen healthy
    healthy_since: float | None = None
    reason: str = ""

    def as_dict(self) -> dict:
        return {"state": self.state, "restarts": self.restarts, "reason": self.reason}


def next_action(watch: Watch, *, pid: int | None, problem: str | None, age: float, start_timeout: float,
                deps_ready: bool, now: float) -> str:
    """The policy, free of processes: "ok", "wait" or "restart" (and "give-up" once, which marks
    the watch failed). ``problem`` is the last probe's answer (None: healthy), ``age`` the process's
    age in seconds."""  # fmt: skip
    if watch.state in ("failed", "restarting"):
        return "wait"
    if pid is not None and problem is None:
        watch.failed_probes, watch.healthy_pid = 0, pid
        watch.healthy_since = watch.healthy_since or now
        if now - watch.healthy_since >= STEADY_AFTER_S:
            watch.backoff = BACKOFF_FIRST_S
        watch.state, watch.reason = "watching", ""
        return "ok"
    watch.healthy_since = None
    if pid is not None:
        still_starting = watch.healthy_pid != pid and age < start_timeout
        if still_starting or watch.failed_probes < FAILED_PROBES_TO_RESTART:
            return "ok"
    if not deps_ready or now < watch.not_before:
        watch.state = "waiting"
        return "wait"
    while watch.recent and now - watch.recent[0] > GIVE_UP_WINDOW_S:
        watch.recent.popleft()
    if len(watch.recent) >= GIVE_UP_AFTER:
        watch.state = "failed"
        return "give-up"
    watch.recent.append(now)
    watch.restarts += 1
    watch.state = "restarting"
    watch.not_before = now + watch.backoff
    watch.backoff = min(watch.backoff * 2, BACKOFF_MAX_S)
    return "restart"


def state_file(settings: Settings) -> Path:
    return settings.var_dir / "run" / "supervisor.json"


def reset_file(settings: Settings) -> Path:
    """`up` touches it: the supervisor forgets which services it gave up on."""
    return settings.var_dir / "run" / "supervisor.reset"


def read_state(settings: Settings) -> dict:
    try:
        return json.loads(state_file(settings).read_text())
    except (FileNotFoundError, ValueError):
        return {}


class Supervisor:
    def __init__(self, settings: Settings, services: list[Service]):
        self.settings = settings
        self.services = {s.name: s for s in services}
        self.watches = {name: Watch(name) for name in self.services}
        self.pool = ThreadPoolExecutor(max_workers=6, thread_name_prefix="supervise")
        self.probes: dict[str, tuple[int, Future]] = {}
        self.last_probe: dict[str, float] = {}
        # the last probe's answer and the pid it was about: a new process is "not probed yet", never
        # healthy on its predecessor's word
        self.answers: dict[str, tuple[int, str | None]] = {}
        self.stopping = threading.Event()

    def log(self, line: str) -> None:
        print(f"{datetime.now().strftime('%Y-%m-%d %H:%M:%S')} {line}", flush=True)

    def closure(self, name: str) -> set[str]:
        """Every service `name` depends on, directly or not."""
        found: set[str] = set()
        todo = list(self.services[name].depends_on)
        while todo:
            dep = todo.pop()
            if dep in self.services and dep not in found:
                found.add(dep)
                todo.extend(self.services[dep].depends_on)
        return found

    def problem(self, name: str, pid: int | None) -> str | None:
        """What the last probe of this very process said (None: healthy)."""
        if pid is None:
            return "not running"
        probed_pid, answer = self.answers.get(name, (None, "not probed yet"))
        return answer if probed_pid == pid else "not probed yet"

    def healthy(self, name: str) -> bool:
        return self.watches[name].state not in ("restarting", "failed") and self.problem(name, self.services[name].pid()) is None

    def _collect_probes(self, now: float) -> None:
        for name, service in self.services.items():
            pid = service.pid()
            pending = self.probes.get(name)
            if pending is not None and pending[1].done():
                probed_pid, future = self.probes.pop(name)
                self.answers[name] = (probed_pid, future.result())
                if future.result() is not None and probed_pid == pid:
                    self.watches[name].failed_probes += 1
                pending = None
            due = now - self.last_probe.get(name, 0.0) >= PROBE_EVERY_S
            if pending is None and due and service.wanted and pid is not None:
                self.last_probe[name] = now
                self.probes[name] = (pid, self.pool.submit(service.health))

    def tick(self) -> None:
        now = time.monotonic()
        _reap_children()
        self._collect_probes(now)
        for name, service in self.services.items():
            watch = self.watches[name]
            if not service.wanted:
                watch.state, watch.failed_probes, watch.reason = "watching", 0, ""
                continue
            if watch.state != "restarting" and service.busy():
                continue  # a person's `up`/`down` or a DAG is starting or stopping it right now
            pid = service.pid()
            problem = self.problem(name, pid)
            deps = self.closure(name)
            deps_ready = all(self.healthy(d) for d in deps)
            if pid is not None and not deps_ready:
                watch.failed_probes = 0  # the web cannot reach a dead Kafka: not the web's fault
            action = next_action(
                watch,
                pid=pid,
                problem=problem,
                age=_age(pid),
                start_timeout=service.start_timeout,
                deps_ready=deps_ready,
                now=now,
            )
            if action == "restart":
                reason = "its process died" if pid is None else f"{watch.failed_probes} failed probes: {problem}"
                watch.reason = reason
                self.log(f"{name}: {reason}; restart {watch.restarts}")
                self.pool.submit(self._restart, service, watch, pid)
            elif action == "give-up":
                watch.reason = f"gave up after {GIVE_UP_AFTER} restarts in {GIVE_UP_WINDOW_S / 60:.0f} min"
                self.log(f"{name}: {watch.reason}; end of {service.log_file}:\n{tail(service.log_file, 20)}")
            elif action == "wait" and watch.state == "waiting":
                waiting_for = sorted(d for d in deps if not self.healthy(d))
                watch.reason = f"waiting for {', '.join(waiting_for)}" if waiting_for else "backing off"

    def _restart(self, service: Service, watch: Watch, seen_pid: int | None) -> None:
        try:
            if self.stopping.is_set():
                return
            if service.recover(seen_pid, self.log):
                pid = service.pid()
                if pid is not None:  # recover waited for its health
                    self.answers[service.name] = (pid, None)
                watch.healthy_pid = pid
                self.log(f"{service.name}: back")
            else:
                self.log(f"{service.name}: left alone (stopped by a person, or started by someone else meanwhile)")
            watch.reason = ""
        except (ServiceError, OSError) as exc:
            watch.reason = f"restart failed: {first_line(exc)}"
            self.log(f"{service.name}: {exc}")
        finally:
            watch.failed_probes = 0
            if watch.state == "restarting":
                watch.state = "watching"

    def write_state(self) -> None:
        state = {
            "pid": os.getpid(),
            "at": time.time(),
            "services": {name: watch.as_dict() for name, watch in self.watches.items()},
        }
        write_private(state_file(self.settings), json.dumps(state, indent=1))

    def reset_if_asked(self) -> None:
        path = reset_file(self.settings)
        if path.exists():
            path.unlink(missing_ok=True)
            for name, watch in self.watches.items():
                if watch.state == "failed":
                    self.watches[name] = Watch(name, restarts=watch.restarts)

    def run(self) -> None:
        self.log(f"supervising {', '.join(self.services)}")
        while not self.stopping.is_set():
            self.reset_if_asked()
            try:
                self.tick()
            except Exception as exc:  # a glitch in one round must not end supervision
                self.log(f"supervision round failed: {type(exc).__name__}: {exc}")
            self.write_state()
            self.stopping.wait(TICK_S)
        self.shutdown()

    def shutdown(self) -> None:
        """Exit without leaving a half-started service: hold every service's start lock, so no
        restart is between spawning a process and recording its pid, then leave at once (a
        restart still waiting for health needs nothing more from us)."""
        self.log("stopping")
        with contextlib.ExitStack() as locks:
            for service in self.services.values():
                locks.enter_context(service._exclusive())
            os._exit(0)


def _reap_children() -> None:
    """Services this process restarted are its children: collect the exit of those that died."""
    for child in psutil.Process().children():
        with contextlib.suppress(psutil.Error, ChildProcessError):
            if child.status() == psutil.STATUS_ZOMBIE:
                os.waitpid(child.pid, os.WNOHANG)


def _age(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        return time.time() - psutil.Process(pid).create_time()
    except psutil.Error:
        return 0.0


class SupervisorProcess(Service):
    """The supervisor as a background process of its own (not one of the supervised rows)."""

    name = "supervisor"
    description = "restarts services that died or stopped answering"
    start_timeout = 30.0
    stop_timeout = 20.0
    #: the services it restarted are its children, and they must outlive it
    owns_children = False

    def ports(self) -> list[int]:
        return []

    def command(self) -> list[str]:
        return [sys.executable, "-m", "flightdelay.embedded.supervisor"]

    def environment(self) -> dict[str, str]:
        return {"PYTHONUNBUFFERED": "1"}

    def probe(self) -> str | None:
        state = read_state(self.settings)
        if state.get("pid") != self.pid():
            return "no status written yet"
        age = time.time() - state.get("at", 0)
        return None if age < STALE_AFTER_S else f"last status {age:.0f}s ago"


def main() -> int:
    from flightdelay.embedded.platform import all_services

    settings = get_settings()
    supervisor = Supervisor(settings, all_services(settings))
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: supervisor.stopping.set())
    supervisor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
