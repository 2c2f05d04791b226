"""The scorer's Prometheus metrics, served by its driver on SCORER_METRICS_PORT (127.0.0.1:9108
by default) at /metrics in the text format.

Per micro-batch: batches, records by outcome (scored, dead-lettered, skipped), the time of each
phase (offsets and read for a small batch the driver reads itself, parse, score, kafka, hdfs,
mongo wait; the executors' tasks' phases and "job" for a big one) and of the whole batch, and the
age of the newest request scored (now minus its Kafka timestamp). From Spark's query progress,
looked at once a second: how far the query is behind the request topic's end, in offsets. The serving model as an info-style gauge
(``flightdelay_scorer_model{version="...", engine="..."} 1``).
"""

from __future__ import annotations

from typing import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

OUTCOMES = ("scored", "dead_letter", "skipped")
# a quiet batch takes tens of ms, one of 20,000 records a few seconds
PHASE_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ScorerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.batches = Counter("flightdelay_scorer_batches", "Micro-batches scored", registry=self.registry)
        self.records = Counter(
            "flightdelay_scorer_records", "Request records by outcome", ["outcome"], registry=self.registry
        )
        for outcome in OUTCOMES:  # every outcome present from the start, at 0
            self.records.labels(outcome)
        self.phase_seconds = Histogram(
            "flightdelay_scorer_phase_duration_seconds",
            "Time of each phase of a micro-batch",
            ["phase"],
            buckets=PHASE_BUCKETS,
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "flightdelay_scorer_batch_duration_seconds",
            "Time of a whole micro-batch in the scorer's code",
            buckets=PHASE_BUCKETS,
            registry=self.registry,
        )
        self.request_age = Gauge(
            "flightdelay_scorer_newest_request_age_seconds",
            "Age of the newest request of the last batch when it was scored",
            registry=self.registry,
        )
        self.offsets_behind = Gauge(
            "flightdelay_scorer_offsets_behind_latest",
            "Records of the request topic not read yet, at the last progress report",
            registry=self.registry,
        )
        self.model = Gauge(
            "flightdelay_scorer_model", "The model version serving (value 1)", ["version", "engine"], registry=self.registry
        )
        self._model_labels: tuple[str, str] | None = None

    def batch_done(
        self, phases: Iterable[tuple[str, float]], scored: int, dead_lettered: int, skipped: int, newest_age_s: float | None
    ) -> None:
        total = 0.0
        for name, seconds in phases:
            self.phase_seconds.labels(name).observe(seconds)
            total += seconds
        self.batch_seconds.observe(total)
        self.batches.inc()
        self.records.labels("scored").inc(scored)
        self.records.labels("dead_letter").inc(dead_lettered)
        self.records.labels("skipped").inc(skipped)
        if newest_age_s is not None:
            self.request_age.set(newest_age_s)

    def serving(self, version: str, engine: str) -> None:
        """Only the model serving now has a series: a swap removes the previous one."""
        labels = (version, engine)
        if labels == self._model_labels:
            return
        if self._model_labels is not None:
            self.model.remove(*self._model_labels)
        self.model.labels(*labels).set(1)
        self._model_labels = labels

    def progress(self, source_metrics: dict) -> None:
        """A Kafka source's metrics from a progress event (strings, as Spark reports them)."""
        behind = source_metrics.get("maxOffsetsBehindLatest")
        if behind is not None:
            self.offsets_behind.set(float(behind))

    def serve(self, host: str, port: int, log: Callable[[str], None]) -> bool:
        """Serve /metrics; a port in use costs the metrics, never the scoring."""
        try:
            start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            log(f"metrics not served on {host}:{port}: {exc}")
            return False
        log(f"metrics on http://{host}:{port}/metrics")
        return True
