"""The scorer's in-process query restarts: the budget and the wait (no Spark, no HDFS)."""

from __future__ import annotations

from flightdelay.scoring.recovery import RestartBudget, first_line


def test_the_budget_allows_five_restarts_in_ten_minutes_then_refuses():
    budget = RestartBudget(allowed=5, window_s=600)
    assert all(budget.take(now) for now in (0, 10, 20, 30, 40))
    assert not budget.take(50)
    assert not budget.take(599)


def test_the_budget_forgets_restarts_older_than_its_window():
    budget = RestartBudget(allowed=2, window_s=60)
    assert budget.take(0) and budget.take(30)
    assert not budget.take(59)
    assert budget.take(61)  # the restart at 0 s has left the window
    assert not budget.take(62)


def test_first_line_is_short_and_never_empty():
    assert first_line(RuntimeError("a\nb")) == "a"
    assert first_line(RuntimeError("")) == "RuntimeError"
    assert len(first_line(RuntimeError("x" * 1000))) == 300
