"""The one wait helper (flightdelay.waiting) on a fake clock: no test here sleeps."""

from __future__ import annotations

import pytest

from flightdelay.waiting import WaitTimeout, wait_until


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_wait_until_polls_until_ready_and_reports_a_long_wait():
    clock, lines = FakeClock(), []
    answers = iter(["safe mode"] * 45 + [None])
    waited = wait_until(lambda: next(answers), "HDFS", interval=1.0, log=lines.append, report_every_s=30.0,
                        clock=clock, sleep=clock.sleep)  # fmt: skip
    assert waited == 45.0
    assert lines == ["still waiting for HDFS (30 s): safe mode"]


def test_wait_until_returns_at_once_when_ready():
    clock = FakeClock()
    assert wait_until(lambda: None, "HDFS", clock=clock, sleep=clock.sleep) == 0.0


def test_wait_until_gives_up_at_its_timeout_naming_the_last_reason():
    clock = FakeClock()
    reasons = iter(f"attempt {n}" for n in range(100))
    with pytest.raises(WaitTimeout, match=r"the broker not ready after 10 s: attempt 5"):
        wait_until(lambda: next(reasons), "the broker", timeout=10, interval=2.0, clock=clock, sleep=clock.sleep)
    assert clock.now == 10.0


def test_a_check_that_raises_ends_the_wait_at_once():
    clock = FakeClock()

    def exited():
        raise RuntimeError("the process exited with code 3")

    with pytest.raises(RuntimeError, match="exited with code 3"):
        wait_until(exited, "the process", timeout=60, clock=clock, sleep=clock.sleep)
    assert clock.now == 0.0
