"""The web's /metrics and the scorer's registry parse with prometheus_client's own text parser,
and count what they say they count. No service runs: the web's Kafka and MongoDB are a closed port."""

from __future__ import annotations

import uuid

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from flightdelay.scoring.metrics import ScorerMetrics
from flightdelay.web import close_app, create_app
from tests.unit.test_web_routes import GOOD, PREDICT, RESPONSE, offline_config


def samples(text: str) -> dict[tuple, float]:
    """{(sample name, sorted labels): value} of a Prometheus text exposition."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    app = create_app(offline_config(tmp_path_factory.mktemp("web")))
    yield app
    close_app(app)


def test_web_metrics_count_requests_by_route_template_and_kafka_failures(app):
    client = app.test_client()
    ids = [str(uuid.uuid4()) for _ in range(3)]
    for request_id in ids:
        client.get(RESPONSE.format(request_id))
    assert client.post(PREDICT, json=GOOD).status_code == 503  # Kafka is a closed port
    client.get("/no/such/page")
    reply = client.get("/metrics")
    assert reply.status_code == 200
    assert reply.content_type.startswith("text/plain")
    text = reply.get_data(as_text=True)
    found = samples(text)
    assert not any(request_id in text for request_id in ids), "an id became a label: one series per request"
    route = "/flights/delays/predict/classify_realtime/response/<request_id>"
    answered = sum(v for (name, labels), v in found.items()
                   if name == "flightdelay_web_requests_total" and ("route", route) in labels)  # fmt: skip
    assert answered == 3
    kafka_down = (("dependency", "kafka"),)
    assert found[("flightdelay_web_dependency_errors_total", kafka_down)] >= 1
    assert found[("flightdelay_web_requests_total", (("method", "GET"), ("route", "unmatched"), ("status", "404")))] == 1
    latency = [v for (name, labels), v in found.items()
               if name == "flightdelay_web_request_duration_seconds_count" and ("route", PREDICT) in labels]  # fmt: skip
    assert latency == [1]
    assert found[("flightdelay_web_open_streams", ())] == 0
    assert found[("flightdelay_web_stream_limit", ())] == app.extensions["flightdelay"]["config"].max_streams
    assert found[("flightdelay_web_response_listener_ready", ())] == 0


def test_scorer_metrics_count_batches_records_phases_and_the_serving_model():
    metrics = ScorerMetrics()
    metrics.serving("v1", "compiled")
    metrics.batch_done([("read", 0.01), ("score", 0.002)], scored=5, dead_lettered=2, skipped=0, newest_age_s=0.3)
    metrics.batch_done([("read", 0.02), ("score", 0.001)], scored=1, dead_lettered=0, skipped=1, newest_age_s=None)
    metrics.progress({"maxOffsetsBehindLatest": "42", "avgOffsetsBehindLatest": "40.0"})
    metrics.serving("v2", "compiled")  # a hot reload: only the new version has a series
    found = samples(generate_latest(metrics.registry).decode())
    assert found[("flightdelay_scorer_batches_total", ())] == 2
    assert found[("flightdelay_scorer_records_total", (("outcome", "scored"),))] == 6
    assert found[("flightdelay_scorer_records_total", (("outcome", "dead_letter"),))] == 2
    assert found[("flightdelay_scorer_records_total", (("outcome", "skipped"),))] == 1
    assert found[("flightdelay_scorer_phase_duration_seconds_count", (("phase", "read"),))] == 2
    assert found[("flightdelay_scorer_batch_duration_seconds_count", ())] == 2
    assert found[("flightdelay_scorer_newest_request_age_seconds", ())] == pytest.approx(0.3)
    assert found[("flightdelay_scorer_offsets_behind_latest", ())] == 42
    models = {labels: v for (name, labels), v in found.items() if name == "flightdelay_scorer_model"}
    assert models == {(("engine", "compiled"), ("version", "v2")): 1}


def test_a_taken_metrics_port_costs_the_metrics_not_the_scorer():
    import socket

    lines = []
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert ScorerMetrics().serve("127.0.0.1", port, lines.append) is False
    assert "metrics not served" in lines[0]
