"""The front end against the real embedded platform (Kafka, FerretDB): a request reaches the
request topic completed by the server; its answer on the response topic is served by the response
route and pushed on the SSE stream; an answer only in MongoDB is served too; gunicorn serves it.

Until the streaming scorer runs, each test answers its own request the way the scorer does: a
record keyed by the UUID on the real response topic (ModelVersion "integration-test"). If the
scorer is running it may answer first; the assertions hold for either answer.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from datetime import datetime, timezone

import pytest
import requests
from confluent_kafka import Consumer, Producer, TopicPartition
from pymongo import MongoClient

from flightdelay import kafka_auth
from flightdelay.flights.labels import DELAY_LABELS
from flightdelay.waiting import WaitTimeout, wait_until
from flightdelay.web import close_app, create_app
from flightdelay.web.config import WebConfig

PREDICT = "/flights/delays/predict/classify_realtime"
RESPONSE = "/flights/delays/predict/classify_realtime/response/{}"
STREAM = "/flights/delays/predict/classify_realtime/stream/{}"
FLIGHT = {"Origin": "JFK", "Dest": "LAX", "Carrier": "AA", "FlightDate": "2024-05-01", "DepDelay": 12}


@pytest.fixture(scope="module")
def app(settings, tmp_path_factory):
    app = create_app(
        WebConfig.from_settings(settings, carriers_from_history=False, cache_dir=tmp_path_factory.mktemp("web"))
    )
    yield app
    close_app(app)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="module")
def producer(settings):
    producer = Producer({**kafka_auth.client_config(settings), "enable.idempotence": True})
    yield producer
    producer.flush(10)



def answer(producer, settings, request_id: str, prediction: float = 2.0) -> dict:
    """Produce the scorer's answer to a request onto the real response topic."""
    now = datetime.now(timezone.utc).isoformat()
    probabilities = [0.1, 0.1, 0.1, 0.1]
    probabilities[int(prediction)] = 0.7
    record = {
        **FLIGHT,
        "UUID": request_id,
        "Route": f"{FLIGHT['Origin']}-{FLIGHT['Dest']}",
        "Prediction": prediction,
        "PredictionLabel": DELAY_LABELS[int(prediction)],
        "Probabilities": probabilities,
        "ModelVersion": "integration-test",
        "RequestProducedAt": now,
        "ScoredAt": now,
    }
    producer.produce(settings.response_topic, key=request_id, value=json.dumps(record))
    assert producer.flush(10) == 0
    return record


def request_topic_end(settings) -> list[TopicPartition]:
    consumer = Consumer({**kafka_auth.client_config(settings), "group.id": f"test-{uuid.uuid4()}"})
    try:
        partitions = consumer.list_topics(settings.request_topic, timeout=10).topics[settings.request_topic].partitions
        return [
            TopicPartition(settings.request_topic, p, consumer.get_watermark_offsets(
                TopicPartition(settings.request_topic, p), timeout=10)[1])
            for p in partitions
        ]  # fmt: skip
    finally:
        consumer.close()


def find_request(settings, start: list[TopicPartition], request_id: str, timeout: float = 20) -> dict:
    """The request record keyed by request_id, read from the request topic after ``start``."""
    consumer = Consumer(
        {**kafka_auth.client_config(settings), "group.id": f"test-{uuid.uuid4()}", "enable.auto.commit": False}
    )
    consumer.assign(start)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and not msg.error() and msg.key() == request_id.encode():
                return json.loads(msg.value())
        raise AssertionError(f"request {request_id} never reached {settings.request_topic}")
    finally:
        consumer.close()


def assert_prediction(envelope: dict, request_id: str) -> None:
    assert envelope["status"] == "OK"
    assert envelope["id"] == request_id
    prediction = envelope["prediction"]
    assert prediction["UUID"] == request_id
    assert 0.0 <= prediction["Prediction"] <= 3.0
    assert prediction["PredictionLabel"] in DELAY_LABELS
    assert len(prediction["Probabilities"]) == 4
    assert prediction["ModelVersion"]


def scorer_running(settings) -> bool:
    from flightdelay.ops.scorer import ScoreStream

    return ScoreStream(settings).pid() is not None


# --- the JSON routes ---------------------------------------------------------------------------------


def test_healthz_sees_kafka_and_mongo(client):
    reply = client.get("/healthz")
    assert reply.status_code == 200, reply.json
    assert reply.json["kafka"]["ok"] and reply.json["mongodb"]["ok"]


def test_a_request_reaches_the_topic_and_its_answer_is_served(client, producer, settings):
    start = request_topic_end(settings)
    reply = client.post(PREDICT, json=FLIGHT)
    assert reply.status_code == 200, reply.json
    assert reply.json["status"] == "OK"
    request_id = reply.json["id"]

    sent = find_request(settings, start, request_id)
    assert sent["UUID"] == request_id
    assert (sent["Origin"], sent["Dest"], sent["Carrier"], sent["DepDelay"]) == ("JFK", "LAX", "AA", 12.0)
    assert sent["Distance"] == pytest.approx(2475, abs=5)  # the flown distance from the history
    assert sent["DayOfWeek"] == 3.0  # 2024-05-01 is a Wednesday (1=Mon..7=Sun)
    assert datetime.fromisoformat(sent["Timestamp"]).utcoffset().total_seconds() == 0

    if not scorer_running(settings):
        assert client.get(RESPONSE.format(request_id)).json["status"] == "WAIT"
    answer(producer, settings, request_id)
    envelope: dict = {}

    def answered() -> str | None:
        nonlocal envelope
        envelope = client.get(RESPONSE.format(request_id)).json
        return "the response route still says WAIT" if envelope["status"] == "WAIT" else None

    with contextlib.suppress(WaitTimeout):  # assert_prediction says what the last answer lacks
        wait_until(answered, f"the answer to {request_id}", timeout=15, interval=0.2)
    assert_prediction(envelope, request_id)


def test_a_route_never_flown_is_accepted_with_its_great_circle_distance(client, settings):
    start = request_topic_end(settings)
    reply = client.post(PREDICT, data={**FLIGHT, "Origin": "SJU", "Dest": "STT", "DepDelay": "0"})
    assert reply.status_code == 200, reply.json
    sent = find_request(settings, start, reply.json["id"])
    assert 60 < sent["Distance"] < 90


def test_the_stream_pushes_the_answer_when_it_arrives(client, producer, settings):
    request_id = client.post(PREDICT, json=FLIGHT).json["id"]
    produced_at: dict[str, float] = {}

    def answer_soon():
        time.sleep(1.0)  # the stream is open and waiting by then
        answer(producer, settings, request_id, prediction=3.0)
        produced_at["t"] = time.monotonic()

    threading.Thread(target=answer_soon, daemon=True).start()
    reply = client.get(STREAM.format(request_id), buffered=False)
    assert reply.mimetype == "text/event-stream"
    event = data = None
    for raw in reply.response:
        chunk = raw.decode() if isinstance(raw, bytes) else raw
        for line in chunk.splitlines():
            if line.startswith("event: "):
                event = line[len("event: "):]
            elif line.startswith("data: ") and event == "prediction":
                data = json.loads(line[len("data: "):])
        if data is not None:
            break
    arrived = time.monotonic()
    reply.close()
    assert data is not None, "no prediction event on the stream"
    assert_prediction(data, request_id)
    if "t" in produced_at:  # the push is immediate, not a poll interval later
        assert arrived - produced_at["t"] < 1.0


def test_an_answer_only_in_mongo_is_served(client, settings):
    request_id = str(uuid.uuid4())  # never produced: the listener cannot have seen it
    document = {
        "_id": request_id,
        **answer_document(request_id),
    }
    with MongoClient(settings.mongo_uri) as mongo:
        predictions = mongo[settings.mongo_database][settings.predictions_collection]
        predictions.insert_one(document)
        try:
            envelope = client.get(RESPONSE.format(request_id)).json
            assert_prediction(envelope, request_id)
            assert "_id" not in envelope["prediction"]
            stream = client.get(STREAM.format(request_id)).get_data(as_text=True)
            assert "event: prediction" in stream
        finally:
            predictions.delete_one({"_id": request_id})


def answer_document(request_id: str) -> dict:
    return {
        **FLIGHT,
        "UUID": request_id,
        "Prediction": 1.0,
        "PredictionLabel": DELAY_LABELS[1],
        "Probabilities": [0.2, 0.5, 0.2, 0.1],
        "ModelVersion": "integration-test",
        "ScoredAt": datetime.now(timezone.utc),  # a BSON date: served as ISO text
    }


def test_an_unknown_id_is_404_unknown_and_fast(client):
    started = time.monotonic()
    reply = client.get(RESPONSE.format(uuid.uuid4()))
    assert reply.status_code == 404
    assert reply.json["status"] == "UNKNOWN" and "kept" in reply.json["message"]
    assert time.monotonic() - started < 2.0  # an indexed look-up, not a collection scan


# --- served by gunicorn ----------------------------------------------------------------------------


def test_gunicorn_serves_the_page_the_routes_and_the_stream(served, producer, settings):
    base = served.url
    assert base.startswith("http://127.0.0.1:")
    assert requests.get(f"{base}/healthz", timeout=10).status_code == 200
    page = requests.get(f"{base}/flights/delays/predict_kafka", timeout=10)
    assert page.status_code == 200 and 'id="predict-form"' in page.text

    bad = requests.post(f"{base}{PREDICT}", data={**FLIGHT, "Dest": "QQQ"}, timeout=10)
    assert bad.status_code == 400 and "Dest" in bad.json()["errors"]

    reply = requests.post(f"{base}{PREDICT}", data=FLIGHT, timeout=10)
    assert reply.status_code == 200, reply.text
    request_id = reply.json()["id"]
    threading.Timer(1.0, answer, args=(producer, settings, request_id)).start()
    with requests.get(f"{base}{STREAM.format(request_id)}", stream=True, timeout=30) as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        event = None
        for line in stream.iter_lines(decode_unicode=True):
            if line.startswith("event: "):
                event = line[len("event: "):]
            elif line.startswith("data: ") and event == "prediction":
                assert_prediction(json.loads(line[len("data: "):]), request_id)
                break
        else:
            pytest.fail("the stream ended without a prediction")
    polled = requests.get(f"{base}{RESPONSE.format(request_id)}", timeout=10).json()
    assert_prediction(polled, request_id)


def test_gunicorn_serves_a_valid_api_description_and_its_docs_page(served):
    """Issue #13: /openapi.json (generated from the contract's models) validates as OpenAPI 3.1,
    and /docs renders it from the package under the page's Content-Security-Policy."""
    base = served.url
    reply = requests.get(f"{base}/openapi.json", timeout=10)
    assert reply.status_code == 200
    document = reply.json()
    assert document["openapi"] == "3.1.0" and {"Request", "Prediction"} <= set(document["components"]["schemas"])
    docs = requests.get(f"{base}/docs", timeout=10)
    assert docs.status_code == 200 and "script-src 'self'" in docs.headers["Content-Security-Policy"]
    assert "<script" not in docs.text and "https://" not in docs.text
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(document)
