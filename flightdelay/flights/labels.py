"""The four delay classes and the calendar fields derived from a flight date.

The class of a flight is its ArrDelay bucketed with the splits [-inf, -15, 0, 30, +inf] using
Spark ``Bucketizer`` semantics: bucket i holds [split_i, split_{i+1}), so a delay of exactly
-15 is class 1, exactly 0 is class 2 and exactly 30 is class 3. Training (Spark) and any Python
code (reports, benchmarks, tests) must agree on this, so both read the splits from here.

Day of week follows the BTS convention used everywhere in the platform: 1=Monday .. 7=Sunday.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from datetime import date, datetime

DELAY_SPLITS: tuple[float, ...] = (-math.inf, -15.0, 0.0, 30.0, math.inf)

DELAY_LABELS: tuple[str, ...] = (
    "Early (15+ Minutes Early)",
    "Slightly Early (0-15 Minute Early)",
    "Slightly Late (0-30 Minute Delay)",
    "Very Late (30+ Minutes Late)",
)

NUM_DELAY_CLASSES = len(DELAY_LABELS)

# The finite inner edges; bisect_right puts a value equal to an edge in the bucket above it,
# which is exactly Bucketizer's [lower, upper) rule.
_INNER_SPLITS = DELAY_SPLITS[1:-1]


def delay_class(arr_delay_minutes: float) -> int:
    """The delay class (0..3) of an arrival delay in minutes. NaN has no class (ValueError),
    as Spark's Bucketizer refuses NaN with its default handleInvalid='error'."""
    value = float(arr_delay_minutes)
    if math.isnan(value):
        raise ValueError("ArrDelay is NaN: it has no delay class")
    return bisect_right(_INNER_SPLITS, value)


def delay_label(delay_class_index: int | float) -> str:
    """The human label of a class index; accepts Spark's float predictions such as 2.0. The one
    place a label is computed: the scorer's records, the web's answers and the models use it."""
    try:
        index = int(delay_class_index)
    except (OverflowError, TypeError, ValueError):  # infinity, NaN, not a number
        index = -1
    if index != delay_class_index or not 0 <= index < NUM_DELAY_CLASSES:
        raise ValueError(f"no delay class {delay_class_index!r}; expected 0..{NUM_DELAY_CLASSES - 1}")
    return DELAY_LABELS[index]


def _as_date(value: date | str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(value)


def day_of_week(flight_date: date | str) -> int:
    """1=Monday .. 7=Sunday (ISO weekday, the BTS DayOfWeek convention)."""
    return _as_date(flight_date).isoweekday()


def day_of_month(flight_date: date | str) -> int:
    return _as_date(flight_date).day


def day_of_year(flight_date: date | str) -> int:
    """1 for January 1st .. 365/366."""
    return _as_date(flight_date).timetuple().tm_yday


def calendar_fields(flight_date: date | str) -> dict[str, int]:
    """DayOfWeek, DayOfMonth and DayOfYear of a date (a ``date`` or a YYYY-MM-DD string)."""
    parsed = _as_date(flight_date)
    return {
        "DayOfWeek": parsed.isoweekday(),
        "DayOfMonth": parsed.day,
        "DayOfYear": parsed.timetuple().tm_yday,
    }
