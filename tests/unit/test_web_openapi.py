"""The API description: /openapi.json is generated from the contract's models, covers every route of
the front end, and each route's real answers (through Flask's test client, no service running)
match the schemas it documents; /docs renders it under the page's Content-Security-Policy."""

from __future__ import annotations

import re
import uuid

import pytest
from jsonschema import Draft202012Validator

from flightdelay.contract import FlightQuery, Prediction, Request, prediction_record, read_request
from flightdelay.flights.geo import RouteDistances
from flightdelay.web import close_app, create_app
from flightdelay.web.openapi import MODELS, openapi_document
from tests.unit.test_web_fuzz import MongoDown
from tests.unit.test_web_routes import EmptyStore, offline_config, parse_sse

PREDICT = "/flights/delays/predict/classify_realtime"
RESPONSE_PATH = "/flights/delays/predict/classify_realtime/response/{request_id}"
STREAM_PATH = "/flights/delays/predict/classify_realtime/stream/{request_id}"
GOOD = {"Origin": "JFK", "Dest": "LAX", "Carrier": "AA", "FlightDate": "2016-12-25", "DepDelay": 5}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    config = offline_config(tmp_path_factory.mktemp("web"), probe_timeout_s=0.1, stream_timeout_s=0.4, max_streams=1)
    app = create_app(config)
    app.extensions["flightdelay"]["bridge"].store = MongoDown(config)
    yield app
    close_app(app)


@pytest.fixture(scope="module")
def document(app):
    reply = app.test_client().get("/openapi.json")
    assert reply.status_code == 200 and reply.mimetype == "application/json"
    return reply.json


# --- the document -------------------------------------------------------------------------------------


def test_it_is_openapi_3_1_with_every_route_of_the_app(app, document):
    assert document["openapi"] == "3.1.0"
    documented = {(path, method.upper()) for path, item in document["paths"].items() for method in item}
    served = set()
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        served |= {(path, method) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert served == documented


def test_the_schemas_are_the_models(document):
    schemas = document["components"]["schemas"]
    for model, mode in MODELS:
        expected = model.model_json_schema(mode=mode, ref_template="#/components/schemas/{model}")
        expected.pop("$defs", None)
        assert schemas[model.__name__] == expected, model.__name__
    assert list(schemas["FlightQuery"]["properties"]) == list(FlightQuery.model_fields)
    assert list(schemas["Request"]["properties"]) == list(Request.model_fields)
    assert set(schemas["Prediction"]["properties"]) == {*Prediction.model_fields, "PredictionLabel"}
    assert schemas["Prediction"]["properties"]["Warnings"]["type"] == "array"


def test_every_reference_resolves_and_every_schema_is_valid_json_schema(document):
    schemas = document["components"]["schemas"]
    text = repr(document)
    for name in re.findall(r"#/components/schemas/([A-Za-z]+)", text):
        assert name in schemas, name
    for name, schema in schemas.items():
        Draft202012Validator.check_schema(schema)


def test_the_document_validates_as_openapi(document):
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(document)


def test_the_response_routes_states_are_documented(document):
    responses = document["paths"][RESPONSE_PATH]["get"]["responses"]
    schemas = document["components"]["schemas"]

    def status(ref: dict) -> str:
        return schemas[ref["$ref"].rsplit("/", 1)[-1]]["properties"]["status"]["const"]

    assert [status(s) for s in responses["200"]["content"]["application/json"]["schema"]["oneOf"]] == ["OK", "WAIT"]
    assert status(responses["404"]["content"]["application/json"]["schema"]) == "UNKNOWN"
    assert status(responses["503"]["content"]["application/json"]["schema"]) == "UNAVAILABLE"
    assert set(document["paths"][STREAM_PATH]["get"]["responses"]["200"]["x-events"]) == {
        "prediction", "timeout", "unavailable"}  # fmt: skip


def test_the_document_is_built_once():
    assert openapi_document() is openapi_document()


# --- the real answers match what is documented ----------------------------------------------------


def check(document: dict, path: str, method: str, reply, media: str = "application/json", body=None) -> None:
    """The reply's status is documented for the route and its JSON matches the schema given."""
    documented = document["paths"][path][method]["responses"]
    assert str(reply.status_code) in documented, (path, reply.status_code)
    schema = documented[str(reply.status_code)]["content"][media]["schema"]
    validate(document, schema, reply.json if body is None else body)


def validate(document: dict, schema: dict, value) -> None:
    root = {**schema, "components": document["components"]}
    errors = [e.message for e in Draft202012Validator(root).iter_errors(value)]
    assert not errors, (value, errors)


def full_record(key: str) -> dict:
    row = {**read_request({**GOOD, "UUID": key}, RouteDistances.fixed({})).__dict__, "RequestProducedAt": None}
    return prediction_record(row, 2.0, [0.1, 0.2, 0.6, 0.1], "v1", "2026-12-01T03:57:46+00:00")


def test_the_predict_routes_answers(app, document):
    client = app.test_client()
    check(document, PREDICT, "post", client.post(PREDICT, json=GOOD))  # 503: Kafka is down here
    check(document, PREDICT, "post", client.post(PREDICT, data={k: str(v) for k, v in GOOD.items()}))
    check(document, PREDICT, "post", client.post(PREDICT, json={**GOOD, "DepDelay": "soon"}))
    check(document, PREDICT, "post", client.post(PREDICT, json={**GOOD, "DayOfWeek": 6}))
    check(document, PREDICT, "post", client.post(PREDICT, data=b"x" * 20_000, content_type="application/json"))
    wrong_method = client.get(PREDICT)
    assert wrong_method.status_code == 405
    validate(document, document["paths"][PREDICT]["post"]["responses"]["405"]["content"]["application/json"]["schema"],
             wrong_method.json)  # fmt: skip


def test_the_response_routes_answers(app, document, monkeypatch):
    client = app.test_client()
    links = app.extensions["flightdelay"]["bridge"]
    check(document, RESPONSE_PATH, "get", client.get(f"{PREDICT}/response/not-a-uuid"))
    check(document, RESPONSE_PATH, "get", client.get(f"{PREDICT}/response/{uuid.uuid4()}"))  # 503: Mongo down
    answered = str(uuid.uuid4())
    links.cache.put(answered, full_record(answered))
    check(document, RESPONSE_PATH, "get", client.get(f"{PREDICT}/response/{answered}"))
    monkeypatch.setattr(links, "store", EmptyStore())
    monkeypatch.setattr(links, "start", lambda: None)
    unknown = client.get(f"{PREDICT}/response/{uuid.uuid4()}")
    assert unknown.status_code == 404
    check(document, RESPONSE_PATH, "get", unknown)
    waiting = str(uuid.uuid4())
    links.sent.put(waiting, {"sent": True})
    reply = client.get(f"{PREDICT}/response/{waiting}")
    assert reply.json["status"] == "WAIT"
    check(document, RESPONSE_PATH, "get", reply)


def test_the_stream_routes_events_and_answers(app, document):
    client = app.test_client()
    links = app.extensions["flightdelay"]["bridge"]
    events_doc = document["paths"][STREAM_PATH]["get"]["responses"]["200"]["x-events"]
    waited = client.get(f"{PREDICT}/stream/{uuid.uuid4()}")
    assert waited.status_code == 200 and waited.mimetype == "text/event-stream"
    names = []
    for name, data in parse_sse(waited.get_data(as_text=True)):
        validate(document, events_doc[name], data)
        names.append(name)
    waited.close()  # gives its stream slot back (the app has one)
    assert names == ["unavailable", "timeout"]
    answered = str(uuid.uuid4())
    links.cache.put(answered, full_record(answered))
    reply = client.get(f"{PREDICT}/stream/{answered}")
    [(name, data)] = parse_sse(reply.get_data(as_text=True))
    reply.close()
    assert name == "prediction"
    validate(document, events_doc[name], data)
    check(document, STREAM_PATH, "get", client.get(f"{PREDICT}/stream/x"))

    held = client.get(f"{PREDICT}/stream/{uuid.uuid4()}", buffered=False)  # the one slot
    try:
        full = client.get(f"{PREDICT}/stream/{uuid.uuid4()}")
        assert full.status_code == 503 and "Retry-After" in full.headers
        check(document, STREAM_PATH, "get", full)
    finally:
        held.close()


def test_the_health_check_answers(app, document):
    check(document, "/healthz", "get", app.test_client().get("/healthz"))


def test_the_model_routes_answers(app, document, monkeypatch):
    from flightdelay.web.reference import ServingModelInfo

    reference = app.extensions["flightdelay"]["reference"]
    check(document, "/api/model", "get", app.test_client().get("/api/model"))  # 503: MongoDB is down here
    record = {"version": "v1", "data_window": {"train_start": "2013-01-01", "holdout_start": "2013-12-04",
              "holdout_end": "2013-12-31"}, "metrics": {"accuracy": 0.6, "weighted_f1": 0.55}}  # fmt: skip
    for current, status in ((record, 200), (None, 404)):
        monkeypatch.setattr(reference, "model", ServingModelInfo(lambda current=current: current))
        reply = app.test_client().get("/api/model")
        assert reply.status_code == status
        check(document, "/api/model", "get", reply)


# --- the docs page ----------------------------------------------------------------------------------


def test_the_docs_page_renders_the_document_from_the_package(app, document):
    client = app.test_client()
    reply = client.get("/docs")
    assert reply.status_code == 200 and reply.mimetype == "text/html"
    html = reply.get_data(as_text=True)
    for path, item in document["paths"].items():
        assert f"{next(iter(item)).upper()} {path}" in html, path
    for name in document["components"]["schemas"]:
        assert f'id="schema-{name}"' in html, name
    assert "<script" not in html and "style=" not in html  # nothing the CSP would block
    assert "http://" not in html and "https://" not in html  # no CDN
    assert "script-src 'self'" in reply.headers["Content-Security-Policy"]
    assert 'href="/openapi.json"' in html
    for asset in re.findall(r'(?:href|src)="(/static/[^"]+)"', html):
        static = client.get(asset)
        assert static.status_code == 200, asset
        static.close()
