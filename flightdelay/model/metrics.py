"""Held-out metrics from a confusion matrix: accuracy, weighted F1, per-class precision/recall.

Computed in Python from the (label, prediction) counts so the same code scores a Spark model,
a scikit-learn model in the benchmark, and the unit tests.
"""

from __future__ import annotations

from typing import Iterable, Mapping

from flightdelay.flights.labels import DELAY_LABELS, NUM_DELAY_CLASSES


def confusion_matrix(pairs: Iterable[tuple[int, int, int]]) -> list[list[int]]:
    """From (label, prediction, count) triples to a 4x4 matrix: rows = true, columns = predicted."""
    matrix = [[0] * NUM_DELAY_CLASSES for _ in range(NUM_DELAY_CLASSES)]
    for label, prediction, count in pairs:
        matrix[int(label)][int(prediction)] += int(count)
    return matrix


def classification_metrics(matrix: list[list[int]]) -> dict:
    total = sum(map(sum, matrix))
    if total == 0:
        raise ValueError("no held-out rows to score")
    per_class: dict[str, Mapping[str, float]] = {}
    weighted_f1 = 0.0
    for k in range(NUM_DELAY_CLASSES):
        true_k = sum(matrix[k])
        predicted_k = sum(row[k] for row in matrix)
        hit = matrix[k][k]
        precision = hit / predicted_k if predicted_k else 0.0
        recall = hit / true_k if true_k else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        weighted_f1 += f1 * true_k / total
        per_class[str(k)] = {
            "label": DELAY_LABELS[k],
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": true_k,
        }
    accuracy = sum(matrix[k][k] for k in range(NUM_DELAY_CLASSES)) / total
    return {
        "accuracy": round(accuracy, 4),
        "weighted_f1": round(weighted_f1, 4),
        "per_class": per_class,
        # rows keyed by the true class: FerretDB stores no nested arrays
        "confusion_matrix": {str(k): row for k, row in enumerate(matrix)},
        "rows": total,
    }
