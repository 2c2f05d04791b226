"""Delay classes (Spark Bucketizer edges) and the calendar fields (DayOfWeek 1=Mon..7=Sun)."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest

from flightdelay.flights import labels


@pytest.mark.parametrize(
    ("arr_delay", "expected_class"),
    [
        (-math.inf, 0),
        (-200.0, 0),
        (-15.0001, 0),
        (-15.0, 1),  # an edge belongs to the bucket above it
        (-15, 1),
        (-7.5, 1),
        (-0.0001, 1),
        (0.0, 2),
        (0, 2),
        (-0.0, 2),
        (15.0, 2),
        (29.9999, 2),
        (30.0, 3),
        (30, 3),
        (1440.0, 3),
        (math.inf, 3),
    ],
)
def test_delay_class_uses_bucketizer_edges(arr_delay: float, expected_class: int) -> None:
    assert labels.delay_class(arr_delay) == expected_class


@pytest.mark.parametrize("arr_delay", [-90.0, -15.0, -14.0, -1.0, 0.0, 1.0, 29.0, 30.0, 31.0, 600.0])
def test_delay_class_agrees_with_numpy_digitize(arr_delay: float) -> None:
    # numpy.digitize(x, bins) returns i with bins[i-1] <= x < bins[i]: the same [lower, upper) rule.
    inner_edges = np.array([-15.0, 0.0, 30.0])
    assert labels.delay_class(arr_delay) == int(np.digitize(arr_delay, inner_edges))


def test_delay_class_refuses_nan() -> None:
    with pytest.raises(ValueError, match="NaN"):
        labels.delay_class(float("nan"))


def test_splits_and_labels_match_the_design() -> None:
    assert labels.DELAY_SPLITS == (-math.inf, -15.0, 0.0, 30.0, math.inf)
    assert labels.DELAY_LABELS == (
        "Early (15+ Minutes Early)",
        "Slightly Early (0-15 Minute Early)",
        "Slightly Late (0-30 Minute Delay)",
        "Very Late (30+ Minutes Late)",
    )
    assert labels.NUM_DELAY_CLASSES == 4


@pytest.mark.parametrize(
    ("prediction", "label"),
    [
        (0, "Early (15+ Minutes Early)"),
        (1.0, "Slightly Early (0-15 Minute Early)"),
        (2.0, "Slightly Late (0-30 Minute Delay)"),
        (3, "Very Late (30+ Minutes Late)"),
    ],
)
def test_delay_label_accepts_spark_float_predictions(prediction: float, label: str) -> None:
    assert labels.delay_label(prediction) == label


@pytest.mark.parametrize("bad", [-1, 4, 1.5, 99])
def test_delay_label_rejects_unknown_classes(bad: float) -> None:
    with pytest.raises(ValueError, match="no delay class"):
        labels.delay_label(bad)


@pytest.mark.parametrize(
    ("flight_date", "weekday"),
    [
        ("2013-01-01", 2),  # a Tuesday
        ("2013-01-06", 7),  # Sunday is 7, not 0
        ("2013-01-07", 1),  # Monday is 1
        ("2015-01-01", 4),  # the book's first day, a Thursday
        (date(2013, 12, 31), 2),
    ],
)
def test_day_of_week_is_one_for_monday_to_seven_for_sunday(flight_date: str | date, weekday: int) -> None:
    assert labels.day_of_week(flight_date) == weekday


@pytest.mark.parametrize(
    ("flight_date", "expected"),
    [
        ("2013-01-01", {"DayOfWeek": 2, "DayOfMonth": 1, "DayOfYear": 1}),
        ("2013-03-01", {"DayOfWeek": 5, "DayOfMonth": 1, "DayOfYear": 60}),
        ("2012-03-01", {"DayOfWeek": 4, "DayOfMonth": 1, "DayOfYear": 61}),  # leap year
        ("2012-12-31", {"DayOfWeek": 1, "DayOfMonth": 31, "DayOfYear": 366}),
    ],
)
def test_calendar_fields(flight_date: str, expected: dict[str, int]) -> None:
    assert labels.calendar_fields(flight_date) == expected
    assert labels.day_of_month(flight_date) == expected["DayOfMonth"]
    assert labels.day_of_year(flight_date) == expected["DayOfYear"]
