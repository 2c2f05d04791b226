"""Monitoring reports: where they are kept (MongoDB ``model_monitoring``, one document per window,
``_id`` = the window's end; a JSON file per window on HDFS), the Kafka volume counts, and the
Markdown summary the DAG run shows as its note.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from pymongo import DESCENDING
from pymongo.database import Database

from flightdelay import kafka_auth
from flightdelay.settings import Settings

DELAY_CLASS_NAMES = ("early 15+", "early 0-15", "late 0-30", "late 30+")


def report_id(until: datetime) -> str:
    """A window's report key: its end, e.g. 2026-12-01T04:00:00Z (sorts by time)."""
    return until.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def hdfs_report_path(settings: Settings, key: str) -> str:
    return f"{settings.hdfs_monitoring_path}/{key.replace(':', '')}.json"


class MonitoringStore:
    """The ``model_monitoring`` collection: a report per window, replaced when a window is
    monitored again. It grows by one document a day: the newest few are read by ``_id`` order."""

    def __init__(self, db: Database, collection: str):
        self.collection = db[collection]

    def save(self, report: dict[str, Any]) -> None:
        self.collection.replace_one({"_id": report["_id"]}, report, upsert=True)

    def get(self, key: str) -> dict | None:
        return self.collection.find_one({"_id": key})

    def recent(self, count: int = 30) -> list[dict]:
        """The newest ``count`` reports, oldest first (as charts read them)."""
        newest = list(self.collection.find({}).sort("_id", DESCENDING).limit(count))
        return newest[::-1]

    def mark_retrain(self, key: str, event: dict) -> None:
        self.collection.update_one({"_id": key}, {"$set": {"retrain_event": event}})


def retrain_decision(report: dict[str, Any], earlier: list[dict], cooldown_hours: float, now: datetime) -> dict:
    """Whether this window's drift asks for a retrain: not when a monitoring run already asked
    within ``cooldown_hours``. Retraining learns from the history, not from the requests, so drift
    that outlives a retrain would otherwise ask again after every promotion, for ever."""
    if not report["drift"]["drifted"]:
        return {"retrain": False, "why": "no drift"}
    since = now - timedelta(hours=cooldown_hours)
    for other in sorted(earlier, key=lambda r: r["_id"], reverse=True):
        event = other.get("retrain_event")
        if other["_id"] != report["_id"] and event and datetime.fromisoformat(event["at"]) > since:
            return {
                "retrain": False,
                "why": f"a retrain was requested at {event['at']} (report {other['_id']}), "
                f"within the {cooldown_hours:g} h cooldown",
            }
    return {"retrain": True, "why": report["drift"]["reason"]}


def records_between(settings: Settings, topic: str, since: datetime, until: datetime) -> int:
    """How many records reached ``topic`` in [since, until), from the offsets of those times
    (no record is read, no consumer group). The topics are never compacted: offsets count records."""
    from confluent_kafka import TopicPartition
    from confluent_kafka.admin import AdminClient, OffsetSpec

    admin = AdminClient(kafka_auth.client_config(settings))
    partitions = admin.list_topics(topic, timeout=10).topics[topic].partitions

    def offsets(spec) -> dict[int, int]:
        asked = {TopicPartition(topic, p): spec for p in partitions}
        return {tp.partition: f.result().offset for tp, f in admin.list_offsets(asked, request_timeout=10).items()}

    ends = offsets(OffsetSpec.latest())
    # offset -1: no record at or after that time, so the end of the partition
    first, last = (offsets(OffsetSpec.for_timestamp(int(t.timestamp() * 1000))) for t in (since, until))
    return sum(max(0, (last[p] if last[p] >= 0 else ends[p]) - (first[p] if first[p] >= 0 else ends[p])) for p in ends)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


def summary_markdown(report: dict[str, Any], decision: dict | None = None) -> str:
    """The report in a few lines and two tables: the DAG run's note in the Airflow UI."""
    drift = report["drift"]
    volume = report["volume"]
    latency = report["latency_ms"]
    if not drift["drifted"]:
        head = f"**No drift** ({drift['reason']})."
    elif decision is None or decision["retrain"]:
        head = f"**Drift: retrain requested** ({drift['reason']})."
    else:
        head = f"**Drift, no retrain** ({drift['reason']}; {decision['why']})."
    lines = [
        head,
        "",
        f"Window {report['since']} to {report['until']}, serving **{report['model']['serving']}**.",
        "",
        f"Requests {volume['requests']:,}, predictions {volume['predictions']:,}, "
        f"dead letters {volume['dead_letters']:,} ({volume['dead_letter_rate']:.2%}). "
        f"Latency p50 {_ms(latency.get('p50'))}, p95 {_ms(latency.get('p95'))}, p99 {_ms(latency.get('p99'))}.",
        "",
        "| feature | PSI | reading |",
        "|---|---:|---|",
    ]
    lines += [f"| {f['feature']} | {f['psi']:.3f} | {f['level']} |" for f in drift["features"]]
    mix = report["class_mix"]
    if mix.get("psi") is not None:
        lines += ["", f"Predicted-class mix against the training labels: PSI {mix['psi']:.3f} ({mix['level']})."]
    accuracy = report["live_accuracy"]
    if accuracy:
        lines += ["", "| version | flights with a known outcome | live accuracy |", "|---|---:|---:|"]
        lines += [f"| {a['version']} | {a['matched']:,} | {a['accuracy']:.1%} |" for a in accuracy]
    else:
        lines += ["", "Live accuracy: no requested flight of the window is in the history yet."]
    return "\n".join(lines)


def asset_extra(report: dict[str, Any]) -> dict[str, Any]:
    """The figures an asset event carries (small: the report itself is in MongoDB and HDFS)."""
    return {
        "report": report["_id"],
        "serving": report["model"]["serving"],
        "drifted": report["drift"]["drifted"],
        "max_psi": max((f["psi"] for f in report["drift"]["features"]), default=None),
        "predictions": report["volume"]["predictions"],
        "dead_letter_rate": report["volume"]["dead_letter_rate"],
        "latency_p99_ms": report["latency_ms"].get("p99"),
    }


def now_utc() -> datetime:
    return datetime.now(timezone.utc)
