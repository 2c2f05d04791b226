"""/metrics of the running web (under gunicorn) and of the running scorer's driver, read over HTTP
and parsed with prometheus_client's text parser; a request sent through Kafka moves the scorer's
counters, and the model it reports is the one its heartbeat names."""

from __future__ import annotations

import json

import pytest
import requests
from confluent_kafka import Producer
from prometheus_client.parser import text_string_to_metric_families

from flightdelay import kafka_auth
from flightdelay.canary import canary_request
from flightdelay.ops.scorer import ScoreStream
from flightdelay.waiting import wait_until

pytestmark = pytest.mark.integration


def scrape(url: str) -> dict[tuple, float]:
    reply = requests.get(url, timeout=5)
    assert reply.status_code == 200, reply.text[:300]
    found = {}
    for family in text_string_to_metric_families(reply.text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_the_served_web_counts_its_requests(served):
    for _ in range(2):
        requests.get(f"{served.url}/healthz", timeout=5)
    found = scrape(f"{served.url}/metrics")
    healthz = sum(v for (name, labels), v in found.items()
                  if name == "flightdelay_web_requests_total" and ("route", "/healthz") in labels)  # fmt: skip
    assert healthz >= 2
    assert found[("flightdelay_web_response_listener_ready", ())] in (0, 1)


def test_the_scorer_counts_a_request_it_scored(deployed_scorer, settings):
    url = f"http://{settings.bind_host}:{settings.scorer_metrics_port}/metrics"
    scorer = ScoreStream(settings)
    wait_until(scorer.health, "the scorer to be healthy", timeout=240)
    wait_until(lambda: None if requests.get(url, timeout=2).ok else "no answer", "the scorer's /metrics", timeout=30)
    before = scrape(url).get(("flightdelay_scorer_records_total", (("outcome", "scored"),)), 0)

    producer = Producer(kafka_auth.client_config(settings))
    request = canary_request()
    producer.produce(settings.request_topic, key=request["UUID"], value=json.dumps(request))
    assert producer.flush(30) == 0

    def counted() -> str | None:
        now = scrape(url).get(("flightdelay_scorer_records_total", (("outcome", "scored"),)), 0)
        return None if now > before else f"scored records still {now}"

    wait_until(counted, "the scorer to count the request", timeout=60, interval=0.5)
    found = scrape(url)
    assert found[("flightdelay_scorer_batches_total", ())] >= 1
    assert found[("flightdelay_scorer_phase_duration_seconds_count", (("phase", "score"),))] >= 1
    models = [dict(labels)["version"] for (name, labels), v in found.items() if name == "flightdelay_scorer_model"]
    assert models == [scorer.heartbeat()["model"]]
