"""Every filter the platform sends to a collection that grows, in one place.

FerretDB 1.24 on PostgreSQL pushes down only top-level equality on a scalar (string, number,
bool, ObjectId, date) as ``_jsonb->'field' @> value``; anything else (``$in``, ranges, ``$or``,
arrays, nested documents) makes it read the whole table and filter in Go. Each builder here
returns a pushed-down shape, and ``PLATFORM_QUERIES`` lists them for the explain check
(tests/integration/test_store_indexes.py), which fails on a sequential scan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Mapping

from bson import ObjectId

PUSHED_DOWN_TYPES = (str, int, float, bool, ObjectId, datetime)


def pushed_down(query: Mapping[str, Any]) -> bool:
    """True when FerretDB on PostgreSQL filters ``query`` in PostgreSQL (so an index can serve it)."""
    if not query:
        return False
    for key, value in query.items():
        if key.startswith("$") or "." in key:
            return False
        if isinstance(value, Mapping):
            if set(value) != {"$eq"}:
                return False
            value = value["$eq"]
        if not isinstance(value, PUSHED_DOWN_TYPES):
            return False
    return True


def by_id(key: str) -> dict:
    """A prediction by UUID (its _id: no query needs the UUID field itself), a model by version, a
    route by "ORIGIN-DEST", a flight by its key."""
    return {"_id": key}


def predictions_scored_on(day: date | str) -> dict:
    """The predictions made on one UTC day (retention deletes day by day)."""
    return {"ScoredDay": str(day)}


def flights_on(day: date | str) -> dict:
    """The flights of one day (the history window is trimmed day by day)."""
    return {"FlightDate": str(day)}


def with_status(status: str) -> dict:
    """Registry records in one status (at most one is "current")."""
    return {"status": status}


@dataclass(frozen=True)
class PlatformQuery:
    """One query shape the platform sends: where, what for, and an example filter."""

    collection_setting: str  # the Settings field that names the collection
    purpose: str
    example: dict


PLATFORM_QUERIES = (
    PlatformQuery("predictions_collection", "web and canary: a prediction by its UUID (_id)", by_id("0" * 32)),
    PlatformQuery("predictions_collection", "retention: one day's predictions", predictions_scored_on("2000-01-01")),
    PlatformQuery("flights_collection", "import (replace mode): a flight by its natural key", by_id("missing")),
    PlatformQuery("flights_collection", "history window: one day's flights", flights_on("1999-01-01")),
    PlatformQuery("history_days_collection", "history window: a day's row", by_id("1999-01-01")),
    PlatformQuery("distances_collection", "distances rebuild: a route by its key", by_id("AAA-BBB")),
    PlatformQuery("model_registry_collection", "registry: a version", by_id("v00000000T000000Z")),
    PlatformQuery("model_registry_collection", "registry: the current model", with_status("current")),
)
