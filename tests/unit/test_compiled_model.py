"""The numpy evaluator of a fitted forest, on hand-made trees (no Spark)."""

from __future__ import annotations

import pytest

from flightdelay.model.compiled import CompiledForest, Indexer, tree_from_nodes
from flightdelay.scoring.serving import differences

# feature 0: DepDelay (continuous), feature 1: Carrier_index (categorical)
TREE_A = [
    {"feature": 0, "threshold": 10.0, "left": 1, "right": 2},
    {"counts": [8, 2, 0, 0]},  # DepDelay <= 10
    {"feature": 1, "left_categories": [1.0, 2.0], "left": 3, "right": 4},
    {"counts": [0, 0, 3, 1]},  # carrier index 1 or 2
    {"counts": [0, 0, 0, 5]},  # any other carrier, unseen included
]
TREE_B = [{"counts": [1, 1, 1, 1]}]  # a stump: the same vote for every row


def forest(*trees):
    return CompiledForest(
        indexers=(Indexer("Carrier", {"AA": 0, "B6": 1, "UA": 2}),),
        feature_columns=("DepDelay", "Carrier_index"),
        trees=tuple(tree_from_nodes(t, 4) for t in trees),
        num_classes=4,
    )


@pytest.mark.parametrize(
    "row, prediction, probabilities",
    [
        ({"DepDelay": 10.0, "Carrier": "AA"}, 0.0, [0.8, 0.2, 0.0, 0.0]),  # threshold goes left
        ({"DepDelay": 10.000001, "Carrier": "B6"}, 2.0, [0.0, 0.0, 0.75, 0.25]),
        ({"DepDelay": 50.0, "Carrier": "AA"}, 3.0, [0.0, 0.0, 0.0, 1.0]),
        ({"DepDelay": 50.0, "Carrier": "ZZ"}, 3.0, [0.0, 0.0, 0.0, 1.0]),  # unseen: index 3, right
    ],
)
def test_one_tree_follows_continuous_and_categorical_splits(row, prediction, probabilities):
    [(got, probs)] = forest(TREE_A).predict([row])
    assert got == prediction
    assert probs == pytest.approx(probabilities)


def test_forest_averages_the_trees_normalized_leaf_counts():
    [(got, probs)] = forest(TREE_A, TREE_B).predict([{"DepDelay": 0.0, "Carrier": "UA"}])
    # votes: (0.8, 0.2, 0, 0) + (0.25, 0.25, 0.25, 0.25) = (1.05, 0.45, 0.25, 0.25), sum 2
    assert got == 0.0
    assert probs == pytest.approx([0.525, 0.225, 0.125, 0.125])


def test_a_tie_goes_to_the_first_class_like_spark():
    [(got, _)] = forest(TREE_B).predict([{"DepDelay": 0.0, "Carrier": "AA"}])
    assert got == 0.0


def test_rows_keep_their_order_and_empty_input_scores_nothing():
    rows = [{"DepDelay": d, "Carrier": "AA"} for d in (0.0, 50.0, 0.0)]
    assert [p for p, _ in forest(TREE_A).predict(rows)] == [0.0, 3.0, 0.0]
    assert forest(TREE_A).predict([]) == []


def test_differences_name_the_disagreeing_rows():
    rows = [{"DepDelay": 1.0}, {"DepDelay": 2.0}]
    same = [(0.0, [1.0, 0.0]), (1.0, [0.0, 1.0])]
    assert differences(same, same, rows) == []
    other = [(0.0, [1.0, 0.0]), (0.0, [0.6, 0.4])]
    [found] = differences(same, other, rows)
    assert "'DepDelay': 2.0" in found
