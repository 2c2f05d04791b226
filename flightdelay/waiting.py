"""The one way the platform waits for something to become ready (tenacity underneath).

A check answers None when ready, or a short reason why not. ``wait_until`` polls it at a fixed
interval, says now and then why it is still waiting, and gives up after ``timeout`` seconds (or
never) with ``WaitTimeout`` naming the last reason. A check that raises stops the wait at once:
that is how a caller says "this will never get ready" (a process that exited, an HTTP 403).
"""

from __future__ import annotations

import time
from typing import Callable

from tenacity import RetryCallState, Retrying, retry_if_result


class WaitTimeout(TimeoutError):
    """What was awaited did not get ready in time; the message names it and the last reason."""


def wait_until(
    check: Callable[[], str | None],
    what: str,
    *,
    timeout: float | None = None,
    interval: float = 1.0,
    log: Callable[[str], None] | None = None,
    report_every_s: float = 30.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> float:
    """Call ``check`` until it answers None; returns the seconds waited.

    With ``log``, says what it still waits for every ``report_every_s``. Raises ``WaitTimeout``
    after ``timeout`` seconds (None: wait for ever, for a caller whose own supervisor watches it).
    """
    started = clock()
    reported = [started]

    def out_of_time(state: RetryCallState) -> bool:
        return timeout is not None and clock() - started >= timeout

    def report(state: RetryCallState) -> None:
        if log is not None and clock() - reported[0] >= report_every_s:
            log(f"still waiting for {what} ({clock() - started:.0f} s): {state.outcome.result()}")
            reported[0] = clock()

    def give_up(state: RetryCallState) -> None:
        raise WaitTimeout(f"{what} not ready after {timeout:.0f} s: {state.outcome.result()}")

    retrying = Retrying(
        retry=retry_if_result(lambda problem: problem is not None),
        stop=out_of_time,
        wait=lambda state: interval,
        sleep=sleep,
        before_sleep=report,
        retry_error_callback=give_up,
    )
    retrying(check)
    return clock() - started
