from __future__ import annotations

from datetime import datetime, timezone

from flightdelay.model.registry import gate, new_version


def record(f1: float, baseline_f1: float | None = None) -> dict:
    rec = {"version": "v2", "metrics": {"weighted_f1": f1}}
    if baseline_f1 is not None:
        rec["baseline"] = {"version": "v1", "metrics": {"weighted_f1": baseline_f1}}
    return rec


def test_first_model_is_promoted():
    decision = gate(record(0.31))
    assert decision.promote
    assert "first model" in decision.reason


def test_as_good_as_current_is_promoted():
    assert gate(record(0.50, baseline_f1=0.50)).promote


def test_worse_than_current_is_rejected_with_both_scores():
    decision = gate(record(0.40, baseline_f1=0.50))
    assert not decision.promote
    assert "0.4000" in decision.reason and "0.5000" in decision.reason and "v1" in decision.reason


def test_margin_demands_a_gain_or_tolerates_a_drop():
    assert not gate(record(0.505, baseline_f1=0.50), margin=0.01).promote
    assert gate(record(0.495, baseline_f1=0.50), margin=-0.01).promote


def test_versions_sort_by_time():
    early = new_version(datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc))
    late = new_version(datetime(2026, 11, 2, 3, 4, 5, tzinfo=timezone.utc))
    assert early == "v20260102T030405Z"
    assert sorted([late, early]) == [early, late]


def test_the_gate_note_sets_the_figures_side_by_side():
    from flightdelay.model.registry import GateDecision, gate, gate_note

    candidate = {
        "version": "v2",
        "metrics": {"accuracy": 0.53, "weighted_f1": 0.55},
        "baseline": {"version": "v1", "metrics": {"accuracy": 0.52, "weighted_f1": 0.537}},
        "data_window": {"train_start": "2013-01-01", "holdout_start": "2013-12-03", "holdout_end": "2013-12-31"},
        "row_counts": {"train": 300000, "holdout": 25000},
        "params": {"num_trees": 20, "max_depth": 5},
    }
    note = gate_note(candidate, gate(candidate))
    assert note.startswith("**Promoted**: weighted_f1 0.5500 vs current v1 0.5370")
    assert "| weighted_f1 | 0.5500 | 0.5370 |" in note
    assert "| metric | v2 | current v1 |" in note
    assert "2013-12-03 to 2013-12-31 (25000 flights)" in note
    first = gate_note({**candidate, "baseline": None}, GateDecision(True, "first model"))
    assert "current" not in first.split("\n")[2] and "| accuracy | 0.5300 |" in first
