"""The /ops page's content: the recent monitoring reports (flight_delay_monitoring) as charts and
the newest one as tables. Pure: it takes the reports, the route reads them."""

from __future__ import annotations

from typing import Any, Sequence

from flightdelay.flights.labels import DELAY_LABELS
from flightdelay.monitoring.drift import DRIFT_FEATURES
from flightdelay.web.charts import Reference, bar_chart, line_chart

REPORTS_SHOWN = 30


def _label(report: dict) -> str:
    return report["_id"][5:16].replace("T", " ")  # "12-01 04:00"


def _psi(report: dict, feature: str) -> float | None:
    return next((f["psi"] for f in report["drift"]["features"] if f["feature"] == feature), None)


def _accuracy(report: dict, version: str) -> float | None:
    return next((a["accuracy"] for a in report["live_accuracy"] if a["version"] == version), None)


def ops_view(reports: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Charts over ``reports`` (oldest first) and the newest report, for templates/ops.html."""
    if not reports:
        return {"latest": None, "charts": []}
    labels = [_label(r) for r in reports]
    latest = reports[-1]
    threshold = latest["drift"]["threshold"]
    versions = sorted({a["version"] for r in reports for a in r["live_accuracy"]})
    classes = [str(i) for i in range(len(DELAY_LABELS))]
    charts = [
        line_chart(
            "Drift: PSI per feature",
            labels,
            {f: [_psi(r, f) for r in reports] for f in DRIFT_FEATURES},
            reference=Reference(threshold, f"retrain above {threshold:g}"),
        ),
        line_chart(
            "Latency, request on Kafka to prediction",
            labels,
            {q: [r["latency_ms"].get(q) for r in reports] for q in ("p50", "p95", "p99")},
            unit="ms",
        ),
        line_chart(
            "Volume",
            labels,
            {k: [r["volume"][k] for r in reports] for k in ("requests", "predictions", "dead_letters")},
            unit="per window",
        ),
        line_chart(
            "Dead-letter rate",
            labels,
            {"dead letters / requests": [100 * r["volume"]["dead_letter_rate"] for r in reports]},
            unit="%",
        ),
        line_chart(
            "Live accuracy per model version (flights with a known outcome)",
            labels,
            {v: [_accuracy(r, v) for r in reports] for v in versions},
        ),
        bar_chart(
            f"Predicted classes, window ending {_label(latest)}",
            [DELAY_LABELS[int(c)].split(" (")[0] for c in classes],
            {
                "training labels": [latest["class_mix"]["expected"].get(c, 0.0) for c in classes],
                "predicted": [latest["class_mix"]["actual"].get(c, 0.0) for c in classes],
            },
            unit="share",
        ),
    ]
    return {"latest": latest, "charts": charts, "windows": len(reports)}
