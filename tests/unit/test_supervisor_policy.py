"""The supervisor's restart policy, without processes: when it restarts, waits, backs off, gives up."""

from __future__ import annotations

import pytest

from flightdelay.embedded.supervisor import (
    BACKOFF_MAX_S,
    FAILED_PROBES_TO_RESTART,
    GIVE_UP_AFTER,
    GIVE_UP_WINDOW_S,
    STEADY_AFTER_S,
    Watch,
    next_action,
)


def decide(watch: Watch, now: float, *, pid=100, problem=None, age=1_000.0, deps_ready=True) -> str:
    return next_action(watch, pid=pid, problem=problem, age=age, start_timeout=120.0, deps_ready=deps_ready, now=now)


def test_a_healthy_service_is_left_alone():
    watch = Watch("kafka")
    assert decide(watch, 0.0) == "ok"
    assert watch.healthy_pid == 100


def test_a_dead_process_is_restarted_at_once():
    watch = Watch("kafka")
    decide(watch, 0.0)
    assert decide(watch, 1.0, pid=None, problem="not running") == "restart"
    assert watch.restarts == 1 and watch.state == "restarting"


def test_a_restart_waits_for_its_dependencies():
    watch = Watch("score-stream")
    assert decide(watch, 0.0, pid=None, problem="not running", deps_ready=False) == "wait"
    assert watch.state == "waiting" and watch.restarts == 0
    assert decide(watch, 1.0, pid=None, problem="not running") == "restart"


def test_failed_probes_restart_only_after_several_in_a_row():
    watch = Watch("web")
    decide(watch, 0.0)
    for n in range(1, FAILED_PROBES_TO_RESTART):
        watch.failed_probes = n
        assert decide(watch, float(n), problem="timeout") == "ok"
    watch.failed_probes = FAILED_PROBES_TO_RESTART
    assert decide(watch, 10.0, problem="timeout") == "restart"


def test_a_starting_process_gets_its_start_timeout():
    watch = Watch("score-stream")
    watch.failed_probes = 10
    assert decide(watch, 0.0, pid=200, problem="driver: starting", age=30.0) == "ok"
    assert decide(watch, 1.0, pid=200, problem="driver: starting", age=121.0) == "restart"


def test_backoff_doubles_up_to_its_ceiling_and_resets_when_steady():
    watch = Watch("nifi")
    delays = []
    now = 0.0
    for _ in range(8):
        watch.recent.clear()  # not giving up is another test
        assert decide(watch, now, pid=None, problem="not running") == "restart"
        watch.state = "watching"
        delays.append(watch.not_before - now)
        assert decide(watch, now + delays[-1] / 2, pid=None, problem="not running") == "wait"
        now = watch.not_before
    assert delays[:4] == [1.0, 2.0, 4.0, 8.0]
    assert max(delays) == BACKOFF_MAX_S
    decide(watch, now)
    decide(watch, now + STEADY_AFTER_S)
    assert watch.backoff == 1.0


def test_too_many_restarts_in_the_window_marks_it_failed():
    watch = Watch("kafka")
    now = 0.0
    for _ in range(GIVE_UP_AFTER):
        assert decide(watch, now, pid=None, problem="not running") == "restart"
        watch.state = "watching"
        now = watch.not_before
    assert decide(watch, now, pid=None, problem="not running") == "give-up"
    assert watch.state == "failed"
    assert decide(watch, now + GIVE_UP_WINDOW_S * 2, pid=None, problem="not running") == "wait"


@pytest.mark.parametrize("state", ["restarting", "failed"])
def test_nothing_new_while_restarting_or_failed(state):
    watch = Watch("kafka", state=state)
    assert decide(watch, 0.0, pid=None, problem="not running") == "wait"


def test_a_new_process_is_never_healthy_on_its_predecessors_probe(tmp_path, monkeypatch):
    from flightdelay.embedded.supervisor import Supervisor
    from flightdelay.settings import Settings

    monkeypatch.setenv("FLIGHTDELAY_VAR_DIR", str(tmp_path))
    supervisor = Supervisor(Settings(), [])
    supervisor.answers["score-stream"] = (100, None)  # the old driver was healthy
    assert supervisor.problem("score-stream", 100) is None
    assert supervisor.problem("score-stream", 200) == "not probed yet"  # a new driver, still starting
    assert supervisor.problem("score-stream", None) == "not running"
    supervisor.pool.shutdown()
