"""The web API's description: an OpenAPI 3.1 document built from the contract's pydantic models
(flightdelay.contract) and the reply models below, served at /openapi.json and rendered by
/docs (no script, so the page's Content-Security-Policy needs nothing more).

The reply models say what each route answers; the routes build the same JSON (the unit tests
check each reply against its model), and the document takes their JSON schemas from pydantic.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Literal

from markupsafe import Markup, escape
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from flightdelay.contract import MAX_MESSAGE_BYTES, FlightQuery, Prediction, Request, RequestId

SCHEMAS = "#/components/schemas/"
PREDICT = "/flights/delays/predict/classify_realtime"
RESPONSE = "/flights/delays/predict/classify_realtime/response/{request_id}"
STREAM = "/flights/delays/predict/classify_realtime/stream/{request_id}"
PAGE = "/flights/delays/predict_kafka"

_REPLY = ConfigDict(field_title_generator=lambda name, _info: name)


class Accepted(BaseModel):
    """The request was produced to Kafka; its prediction will be answered under this id."""

    model_config = _REPLY
    status: Literal["OK"]
    id: RequestId


class Answer(BaseModel):
    """The prediction is known."""

    model_config = _REPLY
    status: Literal["OK"]
    id: RequestId
    prediction: Prediction


class Waiting(BaseModel):
    """A request this app sent is not answered yet: ask again (or open the stream)."""

    model_config = _REPLY
    status: Literal["WAIT"]
    id: RequestId


class Unknown(BaseModel):
    """No request with this id waits here and no prediction is stored for it: never sent here,
    or past the store's retention. It will never be answered."""

    model_config = _REPLY
    status: Literal["UNKNOWN"]
    id: RequestId
    message: str


class Refused(BaseModel):
    """Bad input: ``errors`` names each bad field (``body`` for the body as a whole, ``id`` for a
    malformed id); ``message`` says the same in one line."""

    model_config = _REPLY
    status: Literal["ERROR"]
    message: str
    errors: dict[str, str] = Field(description="what is wrong, by field")


class Failed(BaseModel):
    """An HTTP error without fields (wrong method, unknown path, internal error)."""

    model_config = _REPLY
    status: Literal["ERROR"]
    message: str


class Unavailable(BaseModel):
    """A platform service did not answer (``kafka``, ``mongodb``), or every result stream is taken
    (``web``, with a Retry-After header)."""

    model_config = _REPLY
    status: Literal["UNAVAILABLE"]
    service: Literal["kafka", "mongodb", "web"]
    message: str
    id: RequestId | None = None


class StreamTimeout(BaseModel):
    """The stream's ``timeout`` event: no answer within the stream's time; poll the response route."""

    model_config = _REPLY
    status: Literal["WAIT"]
    id: RequestId
    waited_s: float


class ServiceDown(BaseModel):
    """The stream's ``unavailable`` event: MongoDB does not answer (the stream goes on waiting
    for the answer from Kafka)."""

    model_config = _REPLY
    id: RequestId
    service: Literal["mongodb"]
    message: str


class DataWindow(BaseModel):
    """The dates of a model's data (ISO dates): it learned from ``first`` up to ``holdout_start``
    and was tested on the weeks from ``holdout_start`` to ``last``."""

    model_config = _REPLY
    first: str | None
    last: str | None
    holdout_start: str | None


class ServingModel(BaseModel):
    """The model that answers now (the registry's current version), read at most every 30 s."""

    model_config = _REPLY
    status: Literal["OK"]
    version: str
    accuracy: float | None = Field(description="share of its held-out flights it classed right")
    weighted_f1: float | None
    data_window: DataWindow
    promoted_at: str | None


class NoModel(BaseModel):
    """No model is promoted yet: the training DAG has not run."""

    model_config = _REPLY
    status: Literal["UNKNOWN"]
    message: str


class KafkaHealth(BaseModel):
    model_config = _REPLY
    ok: bool
    topics: dict[str, int | None] | None = Field(None, description="partitions of the request and response topics")
    detail: str | None = None


class MongoHealth(BaseModel):
    model_config = _REPLY
    ok: bool
    detail: str | None = None


class ListenerHealth(BaseModel):
    """The app's one consumer of the response topic."""

    model_config = _REPLY
    state: Literal["listening", "starting", "not started"]
    partitions: int
    received: int
    skipped: int
    errors: int
    cached: int
    waiting_streams: int
    last_error: str | None


class StreamsHealth(BaseModel):
    model_config = _REPLY
    open: int
    limit: int


class Health(BaseModel):
    """Whether Kafka and MongoDB answer (no addresses: the report is public)."""

    model_config = _REPLY
    status: Literal["ok", "unavailable"]
    kafka: KafkaHealth
    mongodb: MongoHealth
    listener: ListenerHealth
    streams: StreamsHealth


MODELS: list[tuple[type[BaseModel], str]] = [
    (FlightQuery, "validation"),
    (Request, "validation"),
    (Prediction, "serialization"),
    *((model, "serialization") for model in (Accepted, Answer, Waiting, Unknown, Refused, Failed, Unavailable,
                                             StreamTimeout, ServiceDown, ServingModel, NoModel, Health)),
]  # fmt: skip


def _json(model: type[BaseModel], description: str, headers: dict | None = None) -> dict[str, Any]:
    reply: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": _ref(model)}}}
    if headers:
        reply["headers"] = headers
    return reply


def _one_of(description: str, *models: type[BaseModel]) -> dict[str, Any]:
    schema = {"oneOf": [_ref(m) for m in models]}  # told apart by their constant status
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": SCHEMAS + model.__name__}


def _html(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


REQUEST_ID = {
    "name": "request_id",
    "in": "path",
    "required": True,
    "description": "the id the predict route answered (any spelling of the UUID)",
    "schema": {"type": "string", "format": "uuid"},
}
RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before opening a stream again",
                               "schema": {"type": "integer"}}}  # fmt: skip
BAD_ID = _json(Refused, "the id is not a UUID")


def _paths() -> dict[str, Any]:
    form = {"schema": _ref(FlightQuery)}
    return {
        "/": {"get": {"operationId": "index", "tags": ["page"], "summary": "Redirect to the prediction page",
                      "responses": {"302": {"description": f"to {PAGE}"}}}},
        PAGE: {"get": {
            "operationId": "predict_kafka", "tags": ["page"], "summary": "The prediction page",
            "description": "A form for a flight; the answer is pushed to the page (Server-Sent Events) "
                           "the moment the scorer has it, with polling as the fallback.",
            "responses": {"200": _html("the page")},
        }},
        PREDICT: {"post": {
            "operationId": "classify_realtime", "tags": ["predictions"], "summary": "Ask for a prediction",
            "description": "Validates the flight (every bad field is named at once), completes the request "
                           "(UUID, Timestamp, Distance, the calendar fields, Route: see `Request`) and produces "
                           "it to Kafka's request topic. Answers once Kafka has it; the prediction follows on "
                           "the response and stream routes. Fields the server fills, and fields the request "
                           "does not have, are refused. A form sends numbers as text, which is fine. "
                           f"The body is at most {MAX_MESSAGE_BYTES} bytes.",
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref(FlightQuery)},
                                                          "application/x-www-form-urlencoded": form}},
            "responses": {
                "200": _json(Accepted, "produced to Kafka"),
                "400": _json(Refused, "a bad field, or a body that is not a JSON object or a form"),
                "405": _json(Failed, "not a POST"),
                "413": _json(Refused, f"a body over {MAX_MESSAGE_BYTES} bytes"),
                "503": _json(Unavailable, "Kafka did not take the request"),
            },
        }},
        RESPONSE: {"get": {
            "operationId": "classify_realtime_response", "tags": ["predictions"], "summary": "The prediction, or WAIT",
            "description": "`OK` with the prediction once it is known (from the app's cache of the response "
                           "topic, else MongoDB); `WAIT` while a request this app sent may still be scored; "
                           "404 `UNKNOWN` for an id nobody will answer (never sent here and not stored, or "
                           "past the store's retention); 503 only when MongoDB does not answer.",
            "parameters": [REQUEST_ID],
            "responses": {
                "200": _one_of("answered (`OK`) or still waiting (`WAIT`)", Answer, Waiting),
                "400": BAD_ID,
                "404": _json(Unknown, "an id that will never be answered"),
                "503": _json(Unavailable, "MongoDB did not answer"),
            },
        }},
        STREAM: {"get": {
            "operationId": "classify_realtime_stream", "tags": ["predictions"],
            "summary": "Wait for the prediction (SSE)",
            "description": "Server-Sent Events. Events: `prediction` (data: `Answer`) the moment the answer is "
                           "known; `timeout` (data: `StreamTimeout`) when none came in time, after which the "
                           "client polls the response route; `unavailable` (data: `ServiceDown`) once if "
                           "MongoDB does not answer while the stream waits. Comment lines keep an idle stream "
                           "open. 503 with Retry-After when every stream is taken.",
            "parameters": [REQUEST_ID],
            "responses": {
                "200": {"description": "the event stream; it ends after its `prediction` or `timeout` event",
                        "content": {"text/event-stream": {"schema": {"type": "string"}}},
                        "x-events": {"prediction": _ref(Answer), "timeout": _ref(StreamTimeout),
                                     "unavailable": _ref(ServiceDown)}},
                "400": BAD_ID,
                "503": _json(Unavailable, "every result stream is taken", RETRY_AFTER),
            },
        }},
        "/api/model": {"get": {
            "operationId": "serving_model", "tags": ["prediction"],
            "summary": "The model that answers: its version, held-out accuracy and the dates of its data",
            "description": "A prediction whose request lies outside those dates, or names a carrier, airport "
                           "or route the model never saw, carries `Flags` saying so.",
            "responses": {
                "200": _json(ServingModel, "the current model"),
                "404": _json(NoModel, "no model is promoted yet"),
                "503": _json(Unavailable, "the model registry (MongoDB) does not answer"),
            },
        }},
        "/healthz": {"get": {
            "operationId": "healthz", "tags": ["operations"], "summary": "Kafka and MongoDB reachability",
            "responses": {"200": _json(Health, "both answer"), "503": _json(Health, "one of them does not")},
        }},
        "/metrics": {"get": {
            "operationId": "prometheus_metrics", "tags": ["operations"],
            "summary": "Requests, latency, open streams and dependency errors, in Prometheus' text format",
            "responses": {"200": {"description": "the text exposition format",
                                  "content": {"text/plain": {"schema": {"type": "string"}}}}},
        }},
        "/ops": {"get": {
            "operationId": "ops", "tags": ["operations"],
            "summary": "Monitoring charts: drift, latency, volume, dead letters and live accuracy per window",
            "responses": {"200": _html("the monitoring page"),
                          "503": _html("the monitoring reports (MongoDB) did not answer")},
        }},
        "/openapi.json": {"get": {
            "operationId": "openapi", "tags": ["operations"], "summary": "This document",
            "responses": {"200": {"description": "OpenAPI 3.1",
                                  "content": {"application/json": {"schema": {"type": "object"}}}}},
        }},
        "/docs": {"get": {
            "operationId": "docs", "tags": ["operations"], "summary": "This document as a page",
            "responses": {"200": _html("the API reference")},
        }},
        "/static/{filename}": {"get": {
            "operationId": "static", "tags": ["page"], "summary": "The page's script and style sheet",
            "parameters": [{"name": "filename", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "the file"}, "404": _json(Failed, "no such file")},
        }},
    }  # fmt: skip


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the web's routes, its schemas generated from the models (built
    once per process; callers must not change it)."""
    _, definitions = models_json_schema(MODELS, ref_template=SCHEMAS + "{model}")
    generated = definitions["$defs"]
    # the contract's models first, then the replies, then what they are made of
    schemas = {model.__name__: generated.pop(model.__name__) for model, _ in MODELS} | generated
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Flight delay prediction",
            "version": "1",
            "description": "Ask whether a flight will arrive late and get the model's answer. A request "
                           "goes to Kafka; the streaming scorer answers it on the response topic, in MongoDB "
                           "and in HDFS. The same `Request` is the message on Kafka's request topic, which "
                           "other clients (such as the seed's) may produce to directly, and `Prediction` is "
                           "the message on the response topic.",
        },  # fmt: skip
        "tags": [
            {"name": "predictions", "description": "ask for a prediction and wait for it"},
            {"name": "page", "description": "the prediction page"},
            {"name": "operations", "description": "health and this description"},
        ],
        "paths": _paths(),
        "components": {"schemas": schemas},
    }


# --- the /docs page -------------------------------------------------------------------------------


def describe_schema(schema: dict[str, Any]) -> str:
    """A JSON schema in a few words, for the docs page: its type and constraints."""
    if "$ref" in schema:
        return schema["$ref"].removeprefix(SCHEMAS)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " or ".join(describe_schema(s) for s in schema[key])
    if "const" in schema:
        return repr(schema["const"]).replace("'", '"')
    if "enum" in schema:
        return " | ".join(repr(v).replace("'", '"') for v in schema["enum"])
    kind = schema.get("type", "any")
    if kind == "array":
        text = f"array of {describe_schema(schema.get('items', {}))}"
        if "minItems" in schema and schema.get("minItems") == schema.get("maxItems"):
            text += f", {schema['minItems']} items"
        return text
    if kind == "object" and "additionalProperties" in schema:
        return f"object of {describe_schema(schema['additionalProperties'])}"
    parts = [str(kind)]
    if "format" in schema:
        parts.append(f"({schema['format']})")
    if "minimum" in schema or "maximum" in schema:
        parts.append(f"{schema.get('minimum', '')}..{schema.get('maximum', '')}")
    if "pattern" in schema:
        parts.append(schema["pattern"])
    return " ".join(parts)


def docs_view(document: dict[str, Any]) -> dict[str, Any]:
    """What the /docs template shows: each operation and each schema's fields, in words."""
    operations = []
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            responses = []
            for code, reply in operation["responses"].items():
                content = reply.get("content", {})
                shown = [f"{media}: {describe_schema(body['schema'])}" for media, body in content.items()]
                events = [f"{name}: {describe_schema(ref)}" for name, ref in reply.get("x-events", {}).items()]
                responses.append({"code": code, "description": reply["description"], "bodies": shown, "events": events})
            body = operation.get("requestBody", {}).get("content", {})
            operations.append({
                "method": method.upper(), "path": path, "id": operation["operationId"],
                "summary": operation["summary"], "description": operation.get("description", ""),
                "parameters": operation.get("parameters", []),
                "body": [f"{media}: {describe_schema(b['schema'])}" for media, b in body.items()],
                "responses": responses,
            })  # fmt: skip
    schemas = []
    for name, schema in document["components"]["schemas"].items():
        required = set(schema.get("required", []))
        fields = [
            {"name": field, "type": describe_schema(spec), "required": field in required,
             "description": spec.get("description", "")}
            for field, spec in schema.get("properties", {}).items()
        ]  # fmt: skip
        schemas.append({"name": name, "description": schema.get("description", ""), "fields": fields})
    return {"info": document["info"], "operations": operations, "schemas": schemas}


def doc_text(text: str) -> Markup:
    """Text from ``docs_view`` as HTML: escaped, `code` spans marked, schema names linked."""
    names = openapi_document()["components"]["schemas"]
    html = _CODE.sub(r"<code>\1</code>", str(escape(text)))
    return Markup(_schema_names(tuple(names)).sub(lambda m: f'<a href="#schema-{m[0]}">{m[0]}</a>', html))


_CODE = re.compile(r"``?([^`<>]+)``?")


@lru_cache(maxsize=1)
def _schema_names(names: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) + r")\b")
