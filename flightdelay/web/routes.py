"""The front end's routes: the prediction page, the seed's request/response JSON routes, the
Server-Sent Events push channel, the health check and the API description (/openapi.json, /docs).

Input is read with ``flightdelay.contract`` (the scorer reads requests the same way), so every
bad field is a 400 naming it; a platform service that does not answer is a 503 saying which.
"""

from __future__ import annotations

import logging
import uuid as uuid_module
from datetime import date, datetime, timezone
from typing import Any, Mapping

from flask import Blueprint, Response, current_app, jsonify, render_template, request, url_for
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from flightdelay.contract import (
    FlightQuery,
    InvalidRequest,
    JSONBoundsError,
    Request,
    load_json,
    read_request,
)
from flightdelay.flights.geo import RouteDistances
from flightdelay.flights.labels import DELAY_LABELS
from flightdelay.flights.schema import MAX_ABS_DELAY_MINUTES
from flightdelay.model.scope import FLAG_TEXT
from flightdelay.web.config import WebConfig
from flightdelay.web.kafka_bridge import KafkaBridge, ServiceUnavailable, normalize_uuid, ok_envelope
from flightdelay.web.metrics import WebMetrics
from flightdelay.web.reference import ReferenceData
from flightdelay.web.openapi import doc_text, docs_view, openapi_document
from flightdelay.web.ops import REPORTS_SHOWN, ops_view
from flightdelay.web.streams import StreamSlots, hang_up_check, prediction_events

log = logging.getLogger(__name__)

# What a user sends; everything else in a request message the server fills.
USER_FIELDS = tuple(FlightQuery.model_fields)
SERVER_FIELDS = tuple(name for name in Request.model_fields if name not in USER_FIELDS)

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

pages = Blueprint("pages", __name__)
api = Blueprint("api", __name__)


# --- per-app objects -----------------------------------------------------------------------------


def web_config() -> WebConfig:
    return current_app.extensions["flightdelay"]["config"]


def bridge() -> KafkaBridge:
    return current_app.extensions["flightdelay"]["bridge"]


def reference() -> "ReferenceData":
    return current_app.extensions["flightdelay"]["reference"]


def stream_slots() -> StreamSlots:
    return current_app.extensions["flightdelay"]["streams"]


def metrics() -> WebMetrics:
    return current_app.extensions["flightdelay"]["metrics"]


# --- helpers -------------------------------------------------------------------------------------


class BadInput(Exception):
    def __init__(self, errors: Mapping[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = dict(errors)


def error_response(errors: Mapping[str, str], status: int = 400):
    message = "; ".join(f"{field}: {text}" for field, text in errors.items())
    return jsonify({"status": "ERROR", "message": message, "errors": dict(errors)}), status


def unavailable_response(exc: ServiceUnavailable, request_id: str | None = None):
    metrics().dependency_failed(exc.service)
    body: dict[str, Any] = {"status": "UNAVAILABLE", "service": exc.service, "message": str(exc)}
    if request_id:
        body["id"] = request_id
    return jsonify(body), 503


def read_fields() -> dict[str, Any]:
    """The user's fields from a form or a JSON object body; BadInput names what is wrong."""
    fields = read_form() if request.mimetype in FORM_TYPES else read_json_object()
    errors = {}
    for name in fields:
        if name in SERVER_FIELDS:
            errors[name] = "is filled by the server; do not send it"
        elif name not in USER_FIELDS:
            errors[str(name)[:40]] = f"is not a request field (expected {', '.join(USER_FIELDS)})"
    if errors:
        raise BadInput(errors)
    return fields


def body_was_cut() -> bool:
    """A chunked body has no Content-Length to refuse up front: Werkzeug stops reading it at
    the limit, so one that reached the limit had more (and parsing its start proves nothing)."""
    return request.content_length is None and getattr(request.stream, "is_exhausted", False)


def read_form() -> dict[str, Any]:
    form, files = request.form, request.files
    if body_was_cut():
        raise RequestEntityTooLarge()
    if files:
        raise BadInput({"body": "file uploads are not accepted"})
    fields: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name in form.keys():
        values = form.getlist(name)
        if len(values) > 1:
            errors[name] = "is given more than once"
        fields[name] = values[0]
    if errors:
        raise BadInput(errors)
    return fields


def read_json_object() -> dict[str, Any]:
    """The body as a JSON object, its depth and numbers bounded before they are parsed."""
    raw = request.get_data(cache=False)
    if body_was_cut():
        raise RequestEntityTooLarge()
    if not raw.strip():
        raise BadInput({"body": "is empty: send the fields as a JSON object or as a form"})
    try:
        fields = load_json(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadInput({"body": "is not UTF-8 text"}) from None
    except JSONBoundsError as exc:
        raise BadInput({"body": str(exc)}) from None
    except ValueError as exc:
        raise BadInput({"body": f"is not valid JSON ({exc})"}) from None
    if not isinstance(fields, dict):
        raise BadInput({"body": f"must be a JSON object, not a {type(fields).__name__}"})
    return fields


def build_request(fields: Mapping[str, Any], distances: RouteDistances, now: datetime | None = None) -> dict[str, Any]:
    """The request message for the user's fields: validated, Distance (history, else great
    circle), the calendar fields, Timestamp (UTC) and a new UUID filled. Raises InvalidRequest."""
    message = {
        **fields,
        "Timestamp": (now or datetime.now(timezone.utc)).isoformat(),
        "UUID": str(uuid_module.uuid4()),
    }
    return read_request(message, distances).message()


def request_id_or_400(raw: str) -> str:
    # ASCII only: uuid.UUID() also reads other scripts' digits as hex
    key = normalize_uuid(raw) if len(raw) <= 64 and raw.isascii() else None
    if key is None:
        raise BadInput({"id": "must be the UUID returned by the request"})
    return key


# --- the page ------------------------------------------------------------------------------------


@pages.get("/")
def index():
    return current_app.redirect(url_for("pages.predict_kafka"))


@pages.get("/flights/delays/predict_kafka")
def predict_kafka():
    config = web_config()
    data = reference()
    model = data.model.get()
    # starting the listener with the page means it follows the topic before the first request
    bridge().start()
    return render_template(
        "predict_kafka.html",
        airports=data.airports(),
        carriers=data.carriers(),
        labels=DELAY_LABELS,
        flag_text=FLAG_TEXT,
        model=model,
        # a date the model knows: the last of its data (today only while no model is known)
        default_date=(model and model.last_date) or date.today().isoformat(),
        max_delay=MAX_ABS_DELAY_MINUTES,
        deadline_s=config.answer_deadline_s,
        poll_interval_s=config.poll_interval_s,
    )


# --- the JSON routes -------------------------------------------------------------------------


@api.post("/flights/delays/predict/classify_realtime")
def classify_realtime():
    """Validate, complete and produce a request; answer once Kafka confirmed it."""
    try:
        fields = read_fields()
    except BadInput as exc:
        return error_response(exc.errors)
    data = reference()
    try:
        clean = build_request(fields, data.distances)
    except InvalidRequest as exc:
        return error_response(exc.errors)
    unknown_carrier = data.carrier_error(clean["Carrier"])
    if unknown_carrier:
        return error_response({"Carrier": unknown_carrier})
    try:
        bridge().send_request(clean)
    except ServiceUnavailable as exc:
        log.warning("request %s not produced (Kafka %s): %s", clean["UUID"], web_config().kafka_bootstrap, exc)
        return unavailable_response(exc)
    return jsonify({"status": "OK", "id": clean["UUID"]})


@api.get("/flights/delays/predict/classify_realtime/response/<request_id>")
def classify_realtime_response(request_id: str):
    """OK with the prediction (cache filled by the listener, else MongoDB); WAIT while a request
    this app sent may still be scored; 404 UNKNOWN for an id nobody will answer here."""
    try:
        key = request_id_or_400(request_id)
    except BadInput as exc:
        return error_response(exc.errors)
    links = bridge()
    links.start()
    try:
        record = links.lookup(key)
    except ServiceUnavailable as exc:
        return unavailable_response(exc, key)
    if record is not None:
        return jsonify(ok_envelope(key, record))
    if links.awaiting_here(key):
        return jsonify({"status": "WAIT", "id": key})
    days = web_config().predictions_retention_days
    message = (
        "no request with this id is waiting here and no prediction is stored for it "
        f"(predictions are kept {days} days)"
    )
    return jsonify({"status": "UNKNOWN", "id": key, "message": message}), 404


@api.get("/flights/delays/predict/classify_realtime/stream/<request_id>")
def classify_realtime_stream(request_id: str):
    """Server-Sent Events: one ``prediction`` event the moment the answer is known, or a
    ``timeout`` event after ``stream_timeout_s`` (the page then falls back to polling). 503 with
    Retry-After when every stream slot is taken (the page polls then too)."""
    try:
        key = request_id_or_400(request_id)
    except BadInput as exc:
        return error_response(exc.errors)
    config = web_config()
    links = bridge()
    links.start()
    release = stream_slots().take()
    if release is None:
        return streams_full_response(key, config)
    response = Response(
        prediction_events(key, links, config, hang_up_check(request.environ)),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
    # on close, not in the generator: a stream closed before it started never runs its finally
    response.call_on_close(release)
    return response


def streams_full_response(key: str, config: WebConfig):
    message = (
        f"all {config.max_streams} result streams are open; poll the response route, "
        f"or open a stream again in {config.stream_retry_after_s} s"
    )
    reply = jsonify({"status": "UNAVAILABLE", "service": "web", "id": key, "message": message})
    return reply, 503, {"Retry-After": str(config.stream_retry_after_s)}


@api.get("/api/model")
def serving_model():
    """The model that answers: version, held-out accuracy, the dates of its data. 503 while
    MongoDB has not answered yet, 404 before the first model is promoted."""
    info = reference().model
    summary = info.get()
    if summary is not None:
        return jsonify({"status": "OK", **summary.as_dict()})
    if not info.ever_read:
        metrics().dependency_failed("mongodb")
        message = "the model registry (MongoDB) did not answer"
        return jsonify({"status": "UNAVAILABLE", "service": "mongodb", "message": message}), 503
    message = "no model is promoted yet: run the flight_delay_training DAG"
    return jsonify({"status": "UNKNOWN", "message": message}), 404


@pages.get("/ops")
def ops():
    """Monitoring for ops: drift, latency, volume, dead letters and live accuracy of the recent
    windows (flight_delay_monitoring's reports), as charts drawn here (no script, no CDN)."""
    import pymongo
    from pymongo.errors import PyMongoError

    from flightdelay.monitoring.report import MonitoringStore

    config = web_config()
    try:
        with pymongo.timeout(config.probe_timeout_s):
            store = MonitoringStore(bridge().store.database(), config.monitoring_collection)
            reports = store.recent(REPORTS_SHOWN)
    except PyMongoError as exc:
        metrics().dependency_failed("mongodb")
        message = f"the monitoring reports (MongoDB) did not answer ({type(exc).__name__})"
        return render_template("ops.html", view=None, error=message), 503
    return render_template("ops.html", view=ops_view(reports), error=None)


@api.get("/healthz")
def healthz():
    report = bridge().health()
    healthy = report["kafka"]["ok"] and report["mongodb"]["ok"]
    slots = stream_slots()
    report["streams"] = {"open": slots.open, "limit": slots.limit}
    return jsonify({"status": "ok" if healthy else "unavailable", **report}), 200 if healthy else 503


@api.get("/metrics")
def prometheus_metrics():
    """Requests, latency, open streams and dependency errors in Prometheus' text format."""
    return metrics().exposition()


# --- the API description ------------------------------------------------------------------------


@api.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 document, generated from the contract's models."""
    return jsonify(openapi_document())


@pages.get("/docs")
def docs():
    """The API reference: the same document as a page (no script, no CDN)."""
    return render_template("docs.html", api=docs_view(openapi_document()))


pages.add_app_template_filter(doc_text, "doc_text")


# --- errors --------------------------------------------------------------------------------------


def register_error_handlers(app) -> None:
    @app.errorhandler(413)
    def too_large(exc):
        limit = web_config().max_body_bytes
        return error_response({"body": f"is larger than {limit} bytes"}, 413)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return jsonify({"status": "ERROR", "message": exc.description}), exc.code

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unexpected error on %s %s", request.method, request.path)
        return jsonify({"status": "ERROR", "message": "internal error; see the server log"}), 500
