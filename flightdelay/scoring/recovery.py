"""The scorer restarts its own streaming query after an outage, in the same process.

An HDFS outage (NameNode or DataNode) fails the query's checkpoint write or a batch file, and the
query stops. Restarting the whole driver costs ~25 s (JVM, Spark session, a new executor, the
first read); restarting only the query, once HDFS takes writes again, costs ~3 s. The batch that
failed is replayed from the checkpoint as after any crash, so nothing is lost or doubled.

``RestartBudget`` caps that: a query that keeps failing is not an outage but a fault, and the
driver exits so the supervisor restarts it (and, if that keeps failing too, marks it failed).
"""

from __future__ import annotations

from collections import deque

RESTARTS_ALLOWED = 5
RESTART_WINDOW_S = 600.0


class RestartBudget:
    """At most ``allowed`` in-process restarts within ``window_s`` seconds."""

    def __init__(self, allowed: int = RESTARTS_ALLOWED, window_s: float = RESTART_WINDOW_S):
        self.allowed = allowed
        self.window_s = window_s
        self._recent: deque[float] = deque()

    def take(self, now: float) -> bool:
        """True (and counted) if one more restart is allowed at ``now``."""
        while self._recent and now - self._recent[0] > self.window_s:
            self._recent.popleft()
        if len(self._recent) >= self.allowed:
            return False
        self._recent.append(now)
        return True


def first_line(exc: BaseException, limit: int = 300) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:limit]
