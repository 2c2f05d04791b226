"""What MongoDB keeps: predictions for PREDICTIONS_RETENTION_DAYS (HDFS keeps every one), and the
flight history within HISTORY_WINDOW_DAYS of its newest day.

Both delete day by day with an equality filter (``ScoredDay``, ``FlightDate``) that FerretDB
pushes down to a GIN index: a range filter would make it read the whole collection.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Callable

from pymongo.database import Database
from pymongo.errors import BulkWriteError

from flightdelay.settings import Settings
from flightdelay.store.bulk import read_fields
from flightdelay.store.queries import by_id, flights_on, predictions_scored_on

# How far behind the retention cutoff the daily task still looks for predictions: it catches up
# after a long pause; each empty day costs one index look-up (~1 ms)
LOOKBACK_DAYS = 400
DUPLICATE_KEY = 11000


def scored_day(scored_at: str) -> str:
    """The UTC day of a prediction's ScoredAt (ISO-8601, UTC), the key retention deletes by."""
    return scored_at[:10]


@dataclass
class RetentionReport:
    cutoff: str
    deleted: int
    days: int

    def __str__(self) -> str:
        return f"deleted {self.deleted:,} documents from {self.days} day(s) before {self.cutoff}"


def delete_expired_predictions(
    db: Database, settings: Settings, today: date | None = None, log: Callable[[str], None] = print
) -> RetentionReport:
    """Delete the predictions scored more than ``predictions_retention_days`` days before today."""
    today = today or datetime.now(timezone.utc).date()
    cutoff = today - timedelta(days=settings.predictions_retention_days)
    predictions = db[settings.predictions_collection]
    deleted = days = 0
    for back in range(LOOKBACK_DAYS, 0, -1):
        day = cutoff - timedelta(days=back)
        count = predictions.delete_many(predictions_scored_on(day)).deleted_count
        if count:
            log(f"  {day}: {count:,} predictions deleted")
            deleted += count
            days += 1
    return RetentionReport(str(cutoff), deleted, days)


def record_history_days(db: Database, settings: Settings, days: set[str]) -> None:
    """Remember which days the history holds (a small collection, so trimming never scans)."""
    if not days:
        return
    try:
        db[settings.history_days_collection].insert_many([{"_id": day} for day in sorted(days)], ordered=False)
    except BulkWriteError as exc:  # days already recorded are duplicate keys, nothing else is fine
        if any(error.get("code") != DUPLICATE_KEY for error in exc.details.get("writeErrors", [])):
            raise


def _history_days(db: Database, settings: Settings) -> list[str]:
    days = sorted(doc["_id"] for doc in db[settings.history_days_collection].find({}, {"_id": 1}))
    if days or db[settings.flights_collection].find_one({}, {"_id": 1}) is None:
        return days
    # a history imported before days were recorded: read its dates once
    found = {doc.get("FlightDate") for doc in read_fields(db, settings, settings.flights_collection, ("FlightDate",))}
    record_history_days(db, settings, {day for day in found if isinstance(day, str)})
    return sorted(day for day in found if isinstance(day, str))


def trim_history(db: Database, settings: Settings, log: Callable[[str], None] = print) -> RetentionReport:
    """Delete the flights of days more than ``history_window_days`` before the newest day held."""
    days = _history_days(db, settings)
    if not days:
        return RetentionReport("-", 0, 0)
    newest = date.fromisoformat(days[-1])
    cutoff = str(newest - timedelta(days=settings.history_window_days))
    flights, recorded = db[settings.flights_collection], db[settings.history_days_collection]
    deleted = expired = 0
    for day in (d for d in days if d < cutoff):
        deleted += flights.delete_many(flights_on(day)).deleted_count
        recorded.delete_one(by_id(day))
        expired += 1
    if expired:
        log(f"history window: {deleted:,} flights of {expired} day(s) before {cutoff} deleted")
    return RetentionReport(cutoff, deleted, expired)
