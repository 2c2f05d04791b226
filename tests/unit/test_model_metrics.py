from __future__ import annotations

import pytest

from flightdelay.model.metrics import classification_metrics, confusion_matrix


def test_confusion_matrix_rows_are_true_classes():
    matrix = confusion_matrix([(0, 0, 5), (0, 1, 1), (3, 2, 4), (3, 3.0, 6)])
    assert matrix[0] == [5, 1, 0, 0]
    assert matrix[3] == [0, 0, 4, 6]
    assert sum(map(sum, matrix)) == 16


def test_metrics_by_hand():
    # class 0: 8 right, 2 predicted as 1; class 1: 5 right, 5 predicted as 0
    matrix = confusion_matrix([(0, 0, 8), (0, 1, 2), (1, 1, 5), (1, 0, 5)])
    m = classification_metrics(matrix)
    assert m["accuracy"] == pytest.approx(13 / 20, abs=1e-4)
    p0, r0 = 8 / 13, 8 / 10
    p1, r1 = 5 / 7, 5 / 10
    f0, f1 = 2 * p0 * r0 / (p0 + r0), 2 * p1 * r1 / (p1 + r1)
    assert m["weighted_f1"] == pytest.approx(0.5 * f0 + 0.5 * f1, abs=1e-4)
    assert m["per_class"]["0"]["precision"] == pytest.approx(p0, abs=1e-4)
    assert m["per_class"]["1"]["recall"] == pytest.approx(r1, abs=1e-4)
    assert m["per_class"]["2"]["support"] == 0
    assert m["per_class"]["3"]["label"] == "Very Late (30+ Minutes Late)"
    assert m["confusion_matrix"]["1"] == [5, 5, 0, 0]


def test_no_rows_is_an_error():
    with pytest.raises(ValueError):
        classification_metrics(confusion_matrix([]))
