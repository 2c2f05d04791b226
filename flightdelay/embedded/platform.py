"""The embedded platform as a whole: which services, in which order, up / down / status.

`up` starts each service as soon as the services it depends on are healthy, many side by side
(the JVMs overlap their start-up on the two cores), and leaves the supervisor running
(supervisor.py). `down` stops the supervisor first, then the services in waves, dependants first.
"""

from __future__ import annotations

import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Callable, Iterable

from flightdelay.embedded.airflow import airflow_services
from flightdelay.embedded.ferretdb import FerretDB
from flightdelay.embedded.hdfs import DataNode, NameNode
from flightdelay.embedded.kafka import Kafka
from flightdelay.embedded.nifi import NiFi
from flightdelay.embedded.postgres import PostgreSQL
from flightdelay.embedded.spark import cluster_services
from flightdelay.embedded.supervisor import SupervisorProcess, read_state, reset_file
from flightdelay.embedded.web import FlaskApp
from flightdelay.ops.errors import ServiceError
from flightdelay.ops.processes import tail
from flightdelay.ops.scorer import ScoreStream
from flightdelay.ops.service import Service, ServiceStatus
from flightdelay.settings import Settings, get_settings


def all_services(settings: Settings | None = None) -> list[Service]:
    settings = settings or get_settings()
    return [
        PostgreSQL(settings),
        FerretDB(settings),
        Kafka(settings),
        NameNode(settings),
        DataNode(settings),
        NiFi(settings),
        *cluster_services(settings),
        *airflow_services(settings),
        FlaskApp(settings),
        ScoreStream(settings),
    ]


def select(services: list[Service], names: Iterable[str] | None) -> list[Service]:
    if not names:
        return services
    wanted = set(names)
    known = {s.name for s in services}
    unknown = wanted - known
    if unknown:
        raise ServiceError(f"unknown service(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
    # a selected service brings the services it depends on
    by_name = {s.name: s for s in services}
    closure: set[str] = set()

    def add(name: str) -> None:
        if name not in closure:
            closure.add(name)
            for dep in by_name[name].depends_on:
                add(dep)

    for name in wanted:
        add(name)
    return [s for s in services if s.name in closure]


def waves(services: list[Service]) -> list[list[Service]]:
    remaining = list(services)
    done: set[str] = set()
    present = {s.name for s in services}
    result = []
    while remaining:
        wave = [s for s in remaining if all(d in done or d not in present for d in s.depends_on)]
        if not wave:
            raise ServiceError(f"dependency cycle among {[s.name for s in remaining]}")
        result.append(wave)
        done.update(s.name for s in wave)
        remaining = [s for s in remaining if s not in wave]
    return result


def up(names: Iterable[str] | None = None, log: Callable[[str], None] = print) -> float:
    """Start what is not running, each service as soon as what it depends on is healthy; returns
    the seconds it took."""
    started = time.monotonic()
    services = select(all_services(), names)
    if not names:
        services = [s for s in services if s.autostart]
    log(f"starting {', '.join(s.name for s in services)}")
    start_when_ready(services, log, whole_platform=not names)
    supervise(log)
    return time.monotonic() - started


def start_when_ready(services: list[Service], log: Callable[[str], None], whole_platform: bool = False) -> None:
    """Start each service once its dependencies among ``services`` are healthy, side by side (the
    JVMs overlap their start-up on the two cores). A service whose dependency failed is not
    started; every failure is raised at the end, as one ServiceError."""
    present = {s.name for s in services}
    pending = {s.name: s for s in services}
    healthy: set[str] = set()
    failed: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=max(1, len(services))) as pool:
        running: dict[Future, str] = {}
        while pending or running:
            for name, service in list(pending.items()):
                needs = [d for d in service.depends_on if d in present]
                broken = [d for d in needs if d in failed]
                if broken:
                    failed[name] = f"not started: {', '.join(broken)} did not start"
                    del pending[name]
                elif all(d in healthy for d in needs):
                    start = service.start_with_platform if whole_platform else service.start
                    running[pool.submit(start, log)] = name
                    del pending[name]
            if not running:
                if pending:  # nothing runs that could make them startable
                    raise ServiceError(f"dependency cycle among {sorted(pending)}")
                break  # the last ones were just given up on (their dependency failed)
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                name = running.pop(future)
                try:
                    future.result()
                    healthy.add(name)
                except ServiceError as exc:
                    failed[name] = str(exc)
    if failed:
        raise ServiceError("\n\n".join(f"{name}: {why}" for name, why in failed.items()))


def supervise(log: Callable[[str], None] = print) -> None:
    """Start the supervisor unless it runs; it forgets the services it had given up on."""
    settings = get_settings()
    reset_file(settings).parent.mkdir(parents=True, exist_ok=True)
    reset_file(settings).touch()
    SupervisorProcess(settings).start(log)


def dependants(services: list[Service], names: Iterable[str]) -> list[Service]:
    """The named services and every service that depends on them, directly or not."""
    chosen = set(names)
    grew = True
    while grew:
        extra = {s.name for s in services if s.name not in chosen and chosen & set(s.depends_on)}
        chosen |= extra
        grew = bool(extra)
    return [s for s in services if s.name in chosen]


def down(names: Iterable[str] | None = None, log: Callable[[str], None] = print) -> None:
    """Stop in reverse start order, so nothing loses a dependency while it still runs. Stopping a
    service stops what depends on it, never what it depends on."""
    services = all_services()
    if names:
        select(services, names)  # names unknown services
        services = dependants(services, names)
    supervisor = SupervisorProcess(get_settings())
    was_supervised = supervisor.stop(log)
    for wave in reversed(waves(services)):
        with ThreadPoolExecutor(max_workers=len(wave)) as pool:
            list(pool.map(lambda s: s.stop(log), wave))
    # the rest of a partly stopped platform stays supervised (what was stopped is no longer wanted)
    if names and was_supervised:
        supervise(log)


def status(names: Iterable[str] | None = None) -> list[ServiceStatus]:
    """Each service's state with the supervisor's view merged in: restart counts, and `failed`
    (with the end of its log) for a service it gave up on. The supervisor's own row comes last."""
    settings = get_settings()
    services = select(all_services(settings), names)
    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(lambda s: s.status(), services))
    supervisor = SupervisorProcess(settings).status()
    watched = read_state(settings).get("services", {}) if supervisor.pid else {}
    by_name = {s.name: s for s in services}
    for row in statuses:
        watch = watched.get(row.name, {})
        row.restarts = watch.get("restarts", 0)
        if watch.get("state") == "failed":
            row.state = "failed"
            row.detail = f"{watch.get('reason')}; end of its log:\n{tail(by_name[row.name].log_file, 10)}"
        elif watch.get("state") == "waiting" and row.state != "healthy":
            row.detail = row.detail or watch.get("reason", "")
    if not names:
        statuses.append(supervisor)
    return statuses


def service(name: str) -> Service:
    for candidate in all_services():
        if candidate.name == name:
            return candidate
    raise ServiceError(f"unknown service {name}; known: {', '.join(s.name for s in all_services())}")
