"""From raw Kafka request records to validated, completed requests or dead letters.

Runs in the streaming driver on each micro-batch's records: the same ``flightdelay.contract``
rules as the Flask front end, so a request is judged the same wherever it comes from.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Mapping

import orjson

from flightdelay.contract import InvalidRequest, complete_request

# Fields of a parsed request. `error` is empty for a valid request.
PARSED_COLUMNS = (
    "UUID",
    "Origin",
    "Dest",
    "Carrier",
    "FlightDate",
    "FlightNum",
    "Route",
    "Timestamp",
    "DepDelay",
    "Distance",
    "DayOfYear",
    "DayOfMonth",
    "DayOfWeek",
    "RequestProducedAt",
    "error",
    "payload",
    "source",
)


def parse_record(
    value: bytes | None,
    produced_at: datetime | None,
    known_distances: Mapping[tuple[str, str], float],
    airports: Mapping,
) -> dict:
    """One Kafka record to one row of PARSED_COLUMNS; never raises."""
    payload = value.decode("utf-8", errors="replace") if value is not None else ""
    row: dict = {name: None for name in PARSED_COLUMNS}
    row["payload"] = payload
    if produced_at is not None:
        row["RequestProducedAt"] = produced_at.astimezone(timezone.utc).isoformat()
    try:
        message = orjson.loads(payload)  # 4x faster than json.loads; also rejects NaN and Infinity
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        row["error"] = f"not valid JSON: {exc.msg if hasattr(exc, 'msg') else exc}"
        return row
    if not isinstance(message, dict):
        row["error"] = f"not a JSON object: {type(message).__name__}"
        return row
    try:
        clean = complete_request(message, known_distances, airports)
    except InvalidRequest as exc:
        row["error"] = f"invalid request: {exc}"
        if isinstance(message.get("UUID"), str):
            row["UUID"] = message["UUID"]
        return row
    for name in PARSED_COLUMNS:
        if name in clean:
            row[name] = clean[name]
    row["error"] = ""
    return row
