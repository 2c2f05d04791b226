"""The web's Prometheus metrics, served at GET /metrics in the text format.

Counted per request: the requests by route template (``/api/predictions/<id>``, never the id
itself, so the series stay few), method and status; the time until the response starts (a result
stream's first byte, not its whole life); the Kafka and MongoDB failures a request met (answered
503). Read at each scrape: the open result streams and their limit, and the response listener's
state, records received and Kafka errors. Each app has its own registry, so tests can build many.
"""

from __future__ import annotations

import time
from typing import Iterable

from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

# from a cached answer (a few ms) to a produce that waits for the broker's ack (seconds)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
UNMATCHED = "unmatched"  # a path no route serves (404): one series for all of them


class LiveState(Collector):
    """What the app holds right now, read when scraped."""

    def __init__(self, bridge, slots):
        self.bridge = bridge
        self.slots = slots

    def collect(self) -> Iterable[Metric]:
        yield GaugeMetricFamily("flightdelay_web_open_streams", "Result streams (SSE) open now", value=self.slots.open)
        yield GaugeMetricFamily("flightdelay_web_stream_limit", "Result streams allowed at once", value=self.slots.limit)
        listener = self.bridge.listener
        yield GaugeMetricFamily(
            "flightdelay_web_response_listener_ready",
            "1 while the app follows the response topic, else 0",
            value=1 if listener.ready.is_set() else 0,
        )
        yield CounterMetricFamily(
            "flightdelay_web_responses_received", "Answers read from the response topic", value=listener.received
        )
        yield CounterMetricFamily(
            "flightdelay_web_response_listener_errors", "Kafka errors the response listener met", value=listener.errors
        )
        yield GaugeMetricFamily("flightdelay_web_cached_predictions", "Answers held in memory", value=len(self.bridge.cache))


class WebMetrics:
    """The app's registry and its request metrics; ``install`` times every request."""

    def __init__(self, bridge, slots):
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "flightdelay_web_requests", "HTTP requests answered", ["route", "method", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "flightdelay_web_request_duration_seconds",
            "Time until the response starts, by route",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.dependency_errors = Counter(
            "flightdelay_web_dependency_errors",
            "Requests answered 503 because Kafka or MongoDB did not answer",
            ["dependency"],
            registry=self.registry,
        )
        self.registry.register(LiveState(bridge, slots))

    def install(self, app: Flask) -> None:
        @app.before_request
        def start_clock() -> None:
            g.metrics_started = time.perf_counter()

        @app.after_request
        def count(response: Response) -> Response:
            route = request.url_rule.rule if request.url_rule is not None else UNMATCHED
            self.requests.labels(route, request.method, str(response.status_code)).inc()
            started = g.get("metrics_started")
            if started is not None:
                self.latency.labels(route).observe(time.perf_counter() - started)
            return response

    def dependency_failed(self, service: str) -> None:
        self.dependency_errors.labels(service).inc()

    def exposition(self) -> Response:
        return Response(generate_latest(self.registry), content_type=CONTENT_TYPE_LATEST)
