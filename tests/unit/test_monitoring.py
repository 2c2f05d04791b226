"""Drift arithmetic, the report's summary and the /ops page's charts (no services)."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest

from flightdelay.monitoring.drift import (
    MIN_ROWS,
    OTHER,
    drift_verdict,
    feature_drift,
    level,
    numeric_bin,
    psi,
    shares,
)
from flightdelay.monitoring.report import asset_extra, report_id, retrain_decision, summary_markdown
from flightdelay.web.charts import Reference, _nice_max, bar_chart, line_chart
from flightdelay.web.ops import ops_view


def test_psi_is_zero_for_the_same_mix_and_grows_with_the_shift():
    expected = {"a": 0.5, "b": 0.3, "c": 0.2}
    assert psi(expected, expected) == pytest.approx(0.0)
    small = psi(expected, {"a": 0.45, "b": 0.33, "c": 0.22})
    large = psi(expected, {"a": 0.1, "b": 0.3, "c": 0.6})
    assert 0 < small < 0.1 < 0.25 < large
    # by hand: (0.1-0.5) ln(0.1/0.5) + 0 + (0.6-0.2) ln(0.6/0.2)
    assert large == pytest.approx(-0.4 * math.log(0.2) + 0.4 * math.log(3))


def test_an_empty_bin_on_one_side_is_floored_not_infinite():
    assert math.isfinite(psi({"a": 1.0}, {"b": 1.0}))
    assert psi({"a": 1.0}, {"b": 1.0}) > 5


def test_levels_follow_the_usual_thresholds():
    assert [level(v) for v in (0.05, 0.1, 0.2, 0.25, 1.0)] == ["stable", "moderate", "moderate", "significant"] + [
        "significant"
    ]


def test_numeric_bins_match_the_spark_binning():
    edges = [-5.0, 0.0, 10.0]
    assert [numeric_bin(v, edges) for v in (-20, -5, -1, 0, 9.9, 10, 500)] == ["0", "1", "1", "2", "2", "3", "3"]


def test_shares_of_nothing_are_zero():
    assert shares({"a": 0, "b": 0}) == {"a": 0.0, "b": 0.0}
    assert shares({"a": 1, "b": 3}) == {"a": 0.25, "b": 0.75}


def drifts(depdelay_actual: dict) -> list:
    return [
        feature_drift("DepDelay", {"0": 0.5, "1": 0.5}, depdelay_actual),
        feature_drift("Carrier", {"UA": 0.6, OTHER: 0.4}, {"UA": 60, OTHER: 40}),
    ]


def test_the_verdict_names_the_drifted_features_worst_first():
    verdict = drift_verdict(drifts({"0": 5, "1": 195}), rows=200, threshold=0.25)
    assert verdict["drifted"] is True
    assert verdict["features_over"] == ["DepDelay"]
    assert verdict["reason"].startswith("PSI above 0.25: DepDelay")


def test_no_verdict_of_drift_on_too_few_rows_or_without_a_profile():
    few = drift_verdict(drifts({"0": 1, "1": 50}), rows=MIN_ROWS - 1)
    assert few["drifted"] is False and "at least" in few["reason"]
    assert drift_verdict([], rows=10_000)["drifted"] is False
    assert drift_verdict([], rows=0)["reason"].startswith("only 0 predictions")  # an idle window


def test_a_stable_window_is_not_drift():
    verdict = drift_verdict(drifts({"0": 100, "1": 100}), rows=200)
    assert verdict["drifted"] is False and verdict["reason"].startswith("every PSI at most")


def report(key: str, depdelay_psi: float, drifted: bool) -> dict:
    return {
        "_id": key,
        "since": "2026-11-30T04:00:00+00:00",
        "until": "2026-12-01T04:00:00+00:00",
        "model": {"serving": "v1", "versions_seen": {"v1": 300}},
        "volume": {"requests": 310, "predictions": 300, "dead_letters": 10, "dead_letter_rate": 0.0323},
        "latency_ms": {"rows": 300, "p50": 180.0, "p95": 400.0, "p99": 800.0, "max": 900.0},
        "drift": {
            "drifted": drifted,
            "threshold": 0.25,
            "features_over": ["DepDelay"] if drifted else [],
            "reason": "PSI above 0.25: DepDelay 1.20" if drifted else "every PSI at most 0.25",
            "features": [
                {"feature": "DepDelay", "psi": depdelay_psi, "level": level(depdelay_psi)},
                {"feature": "Carrier", "psi": 0.02, "level": "stable"},
            ],
        },
        "class_mix": {"expected": {"0": 0.2, "1": 0.3, "2": 0.3, "3": 0.2}, "actual": {"2": 0.6, "3": 0.4},
                      "psi": 0.9, "level": "significant"},  # fmt: skip
        "live_accuracy": [{"version": "v1", "matched": 120, "correct": 60, "accuracy": 0.5}],
    }


def test_the_summary_says_the_verdict_first_and_tables_the_figures():
    text = summary_markdown(report("2026-12-01T04:00:00Z", 1.2, drifted=True))
    assert text.startswith("**Drift: retrain requested**")
    assert "| DepDelay | 1.200 | significant |" in text
    assert "| v1 | 120 | 50.0% |" in text
    assert "dead letters 10 (3.23%)" in text
    assert summary_markdown(report("k", 0.01, drifted=False)).startswith("**No drift**")


def test_the_asset_extra_is_small_and_names_the_report():
    extra = asset_extra(report("2026-12-01T04:00:00Z", 1.2, drifted=True))
    assert extra["report"] == "2026-12-01T04:00:00Z" and extra["drifted"] is True and extra["max_psi"] == 1.2


def test_a_drift_retrain_is_asked_once_per_cooldown():
    from datetime import datetime, timezone

    now = datetime(2026, 12, 1, 4, 0, tzinfo=timezone.utc)
    drifted = report("2026-12-01T04:00:00Z", 1.2, drifted=True)
    earlier = report("2026-11-30T20:00:00Z", 1.1, drifted=True) | {"retrain_event": {"at": "2026-11-30T20:00:05+00:00"}}
    assert retrain_decision(drifted, [earlier, drifted], cooldown_hours=24, now=now)["retrain"] is False
    assert "cooldown" in retrain_decision(drifted, [earlier], cooldown_hours=24, now=now)["why"]
    assert retrain_decision(drifted, [earlier], cooldown_hours=6, now=now)["retrain"] is True
    assert retrain_decision(drifted, [], cooldown_hours=24, now=now)["retrain"] is True
    calm = report("2026-12-01T04:00:00Z", 0.01, drifted=False)
    assert retrain_decision(calm, [], cooldown_hours=0, now=now) == {"retrain": False, "why": "no drift"}
    blocked = retrain_decision(drifted, [earlier], cooldown_hours=24, now=now)
    assert summary_markdown(drifted, blocked).startswith("**Drift, no retrain**")


def test_report_ids_sort_by_time():
    from datetime import datetime, timedelta, timezone

    moment = datetime(2026, 12, 1, 5, 0, tzinfo=timezone(timedelta(hours=1)))
    assert report_id(moment) == "2026-12-01T04:00:00Z"


def test_round_axis_maxima():
    assert [_nice_max(v) for v in (0, 0.03, 0.26, 1, 1.2, 7, 44011)] == [1.0, 0.05, 0.5, 1, 2, 10, 50000]


def test_charts_are_well_formed_svg_with_escaped_text():
    series = {"x&y": [1, None, 3], "z": [0.1, 0.2, 0.3]}
    line = line_chart("<PSI>", ["a", "b", "c"], series, reference=Reference(0.25, "t"))
    bars = bar_chart("mix", ["early", "late"], {"training": [0.4, 0.6], "predicted": [0.5, 0.5]})
    for svg in (line, bars):
        root = ET.fromstring(str(svg))
        assert root.tag.endswith("svg")
    assert "&lt;PSI&gt;" in line and "x&amp;y" in line
    assert str(bars).count("<rect") >= 4


def test_the_ops_view_charts_every_window():
    reports = [report("2026-11-30T04:00:00Z", 0.05, False), report("2026-12-01T04:00:00Z", 1.2, True)]
    view = ops_view(reports)
    assert view["latest"]["_id"] == "2026-12-01T04:00:00Z" and view["windows"] == 2
    assert len(view["charts"]) == 6
    assert "retrain above 0.25" in view["charts"][0]
    assert ops_view([]) == {"latest": None, "charts": []}
