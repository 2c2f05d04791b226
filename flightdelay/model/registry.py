"""The model registry: every trained model is a new immutable version.

A version's PipelineModel lives in HDFS under ``<models path>/<version>/model`` and its record in
the MongoDB ``model_registry`` collection: parameters, data window, row counts, held-out metrics,
the current model's metrics on the same held-out window, created time and status.

Statuses: ``candidate`` (trained, not judged yet) -> ``current`` (promoted; at most one) or
``rejected`` (with the reason); a current model replaced by a better one becomes ``retired``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from pymongo import DESCENDING
from pymongo.database import Database

from flightdelay.settings import Settings, get_settings
from flightdelay.store.queries import by_id, with_status

CANDIDATE, CURRENT, REJECTED, RETIRED = "candidate", "current", "rejected", "retired"
GATE_METRIC = "weighted_f1"


def new_version(now: datetime | None = None) -> str:
    """Sortable and readable: v20261127T063512Z."""
    now = now or datetime.now(timezone.utc)
    return now.strftime("v%Y%m%dT%H%M%SZ")


def model_path(version: str, settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    return f"{settings.hdfs_uri}{settings.hdfs_models_path}/{version}/model"


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reason: str


def gate(candidate: dict, margin: float = 0.0, metric: str = GATE_METRIC) -> GateDecision:
    """Promote when the candidate's held-out score is at least the current model's on the same
    held-out window plus ``margin`` (a negative margin tolerates a small drop). The first model
    is promoted."""
    score = candidate["metrics"][metric]
    baseline = candidate.get("baseline")
    if not baseline:
        return GateDecision(True, f"first model: {metric} {score:.4f} on the held-out window")
    base_score = baseline["metrics"][metric]
    needed = base_score + margin
    verdict = (
        f"{metric} {score:.4f} vs current {baseline['version']} {base_score:.4f} "
        f"on the same held-out window (margin {margin:+.4f})"
    )
    if score >= needed:
        return GateDecision(True, f"promoted: {verdict}")
    return GateDecision(False, f"rejected: {verdict}")


def gate_note(candidate: dict, decision: GateDecision) -> str:
    """The gate's decision as a Markdown note for the training run: the verdict, the held-out
    metrics of the candidate beside the current model's on the same window, the data."""
    baseline = candidate.get("baseline") or {}
    current = baseline.get("metrics") or {}
    verdict = "Promoted" if decision.promote else "Rejected"
    detail = decision.reason.removeprefix("promoted: ").removeprefix("rejected: ")
    header = f"| metric | {candidate['version']} |" + (f" current {baseline['version']} |" if baseline else "")
    rows = [header, "|---|---|" + ("---|" if baseline else "")]
    for metric in ("accuracy", "weighted_f1"):
        row = f"| {metric} | {candidate['metrics'][metric]:.4f} |"
        if baseline:
            row += f" {current[metric]:.4f} |"
        rows.append(row)
    window = candidate.get("data_window") or {}
    counts = candidate.get("row_counts") or {}
    params = candidate.get("params") or {}
    return "\n".join(
        [
            f"**{verdict}**: {detail}",
            "",
            *rows,
            "",
            f"Held out: {window.get('holdout_start')} to {window.get('holdout_end')} ({counts.get('holdout')} flights); "
            f"trained on {counts.get('train')} flights from {window.get('train_start')}. "
            f"Trees {params.get('num_trees')}, depth {params.get('max_depth')}.",
        ]
    )


class ModelRegistry:
    def __init__(self, db: Database, settings: Settings | None = None):
        self.settings = settings or get_settings()
        self.collection = db[self.settings.model_registry_collection]

    def register(self, record: dict[str, Any]) -> None:
        record = {**record, "status": CANDIDATE, "created_at": datetime.now(timezone.utc).isoformat()}
        self.collection.insert_one({"_id": record["version"], **record})

    def get(self, version: str) -> dict | None:
        return self.collection.find_one(by_id(version))

    def current(self) -> dict | None:
        docs = list(self.collection.find(with_status(CURRENT)).sort("promoted_at", DESCENDING).limit(1))
        return docs[0] if docs else None

    def versions(self) -> list[dict]:
        return list(self.collection.find({}).sort("version", DESCENDING))

    def promote(self, version: str, reason: str) -> None:
        now = datetime.now(timezone.utc).isoformat()
        previous = self.current()
        self.collection.update_one(
            by_id(version), {"$set": {"status": CURRENT, "promoted_at": now, "gate_reason": reason}}
        )
        if previous and previous["_id"] != version:
            self.collection.update_one(
                by_id(previous["_id"]), {"$set": {"status": RETIRED, "retired_at": now, "replaced_by": version}}
            )

    def reject(self, version: str, reason: str) -> None:
        self.collection.update_one(by_id(version), {"$set": {"status": REJECTED, "gate_reason": reason}})
