"""From raw Kafka request records to validated, completed requests or dead letters.

Runs in the streaming driver on each micro-batch's records: the contract's ``read_request``, as
the Flask front end uses it, so a request is judged the same wherever it comes from, the size
limit included. Whatever a record holds, it becomes a row: a poison record must not stop the query.
Per record this is one orjson parse and one pydantic validation (`bench/request_parsing.py`).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import orjson

from flightdelay.contract import MAX_MESSAGE_BYTES, InvalidRequest, Request, read_request
from flightdelay.flights.geo import RouteDistances

# Fields of a parsed request: the contract's, when the request reached Kafka, and the record's
# own (what a dead letter needs). `error` is empty for a valid request.
RECORD_COLUMNS = ("error", "payload", "payload_bytes", "source")
PARSED_COLUMNS = (*Request.model_fields, "RequestProducedAt", *RECORD_COLUMNS)


def parse_record(
    value: bytes | None,
    produced_at: datetime | None,
    distances: RouteDistances,
    size: int | None = None,
) -> dict:
    """One Kafka record to one row of PARSED_COLUMNS; never raises.

    `value` may be only the start of the record's value when `size` gives its full length (the
    scorer reads no more than the limit). ``payload`` keeps the bytes, for a dead letter."""
    row: dict = {name: None for name in PARSED_COLUMNS}
    row["payload"] = value
    row["payload_bytes"] = size = len(value or b"") if size is None else size
    if produced_at is not None:
        row["RequestProducedAt"] = produced_at.astimezone(timezone.utc).isoformat()
    if size > MAX_MESSAGE_BYTES:  # judged by its length alone: a huge payload is never parsed
        row["error"] = f"request is {size} bytes, over the {MAX_MESSAGE_BYTES}-byte limit"
        return row
    try:
        row["error"] = _parse(value, row, distances)
    except Exception as exc:  # a record no rule foresaw is a dead letter, never a stopped query
        row["error"] = f"cannot be handled: {type(exc).__name__}: {exc}"
    return row


def _parse(value: bytes | None, row: dict, distances: RouteDistances) -> str:
    """Fill the row's request fields; returns the error ("" for a valid request)."""
    payload = value.decode("utf-8", errors="replace") if value is not None else ""
    try:
        message = orjson.loads(payload)  # 4x faster than json.loads; also rejects NaN and Infinity
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return f"not valid JSON: {exc.msg if hasattr(exc, 'msg') else exc}"
    if not isinstance(message, dict):
        return f"not a JSON object: {type(message).__name__}"
    try:
        request = read_request(message, distances)
    except InvalidRequest as exc:
        if isinstance(message.get("UUID"), str):
            row["UUID"] = message["UUID"]
        return f"invalid request: {exc}"
    row.update(request.__dict__)  # the validated fields, as model_dump() gives them, uncopied
    return ""
