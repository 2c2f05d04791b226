"""The promoted PipelineModel evaluated in the driver with numpy, for low-latency serving.

Why: on this 2-core machine Spark ML's ``PipelineModel.transform`` costs about a second of
planning and task scheduling per micro-batch whatever the batch size, so a streaming request
waited seconds. The fitted model itself is tiny (four string indexes, a column order and a few
hundred tree nodes), so the scorer reads those out of the loaded PipelineModel once per version
and applies them with the same arithmetic Spark uses:

- StringIndexerModel (handleInvalid="keep"): a label's position in ``labels``; anything else,
  null included, the extra index ``len(labels)``;
- VectorAssembler: the features in ``inputCols`` order, as doubles;
- RandomForestClassificationModel: in each tree go left when ``x <= threshold`` (continuous
  split) or when x is one of the split's left categories; votes = the sum, tree by tree, of each
  leaf's class counts divided by their total; Probability = votes / their sum; Prediction = the
  first index of the largest vote.

Only that shape of pipeline is compiled (``Unsupported`` otherwise), and the serving code checks
a compiled model against ``transform`` on probing rows before using it (flightdelay.scoring.serving).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

LEAF = -1


class Unsupported(ValueError):
    """The PipelineModel has a stage or setting this evaluator does not reproduce."""


@dataclass(frozen=True)
class Tree:
    """One decision tree as flat arrays indexed by node number (root = 0)."""

    feature: np.ndarray  # int: the feature a node splits on, LEAF for a leaf
    threshold: np.ndarray  # float: continuous split threshold (NaN for categorical splits)
    left_categories: np.ndarray  # bool [node, category]: a categorical split's left set
    left: np.ndarray  # int: left child
    right: np.ndarray  # int: right child
    leaf_votes: np.ndarray  # float [node, class]: a leaf's class counts / their total
    depth: int


@dataclass(frozen=True)
class Indexer:
    column: str
    index: Mapping[str, int]

    @property
    def unseen(self) -> int:
        return len(self.index)


@dataclass(frozen=True)
class CompiledForest:
    indexers: tuple[Indexer, ...]
    feature_columns: tuple[str, ...]  # the assembler's input columns, in order
    trees: tuple[Tree, ...]
    num_classes: int

    def features(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """The assembled feature matrix of request rows (indexer outputs named ``<col>_index``)."""
        indexed = {
            f"{ix.column}_index": [float(ix.index.get(row.get(ix.column), ix.unseen)) for row in rows]
            for ix in self.indexers
        }
        columns = [
            indexed[name] if name in indexed else [float(row[name]) for row in rows]
            for name in self.feature_columns
        ]
        return np.array(columns, dtype=np.float64).T.reshape(len(rows), len(self.feature_columns))

    def votes(self, x: np.ndarray) -> np.ndarray:
        total = np.zeros((x.shape[0], self.num_classes))
        for tree in self.trees:
            total += tree.leaf_votes[_leaves(tree, x)]  # tree by tree, as Spark sums them
        return total

    def predict(self, rows: Sequence[Mapping[str, Any]]) -> list[tuple[float, list[float]]]:
        """(Prediction, Probability) for each row, as the PipelineModel's transform gives them."""
        if not rows:
            return []
        votes = self.votes(self.features(rows))
        sums = votes[:, 0].copy()
        for k in range(1, self.num_classes):  # left to right, like Scala's Array.sum
            sums += votes[:, k]
        probabilities = votes / sums[:, None]
        predictions = votes.argmax(axis=1)
        return [(float(p), row.tolist()) for p, row in zip(predictions, probabilities)]


def _leaves(tree: Tree, x: np.ndarray) -> np.ndarray:
    """The leaf each row of x ends in: all rows descend one level per step."""
    rows = np.arange(x.shape[0])
    node = np.zeros(x.shape[0], dtype=np.int64)
    for _ in range(tree.depth):
        feature = tree.feature[node]
        internal = feature != LEAF
        if not internal.any():
            break
        value = x[rows, np.where(internal, feature, 0)]
        categorical = np.isnan(tree.threshold[node])
        category = np.clip(value, 0, tree.left_categories.shape[1] - 1).astype(np.int64)
        go_left = np.where(categorical, tree.left_categories[node, category], value <= tree.threshold[node])
        node = np.where(internal, np.where(go_left, tree.left[node], tree.right[node]), node)
    return node


def tree_from_nodes(nodes: Sequence[Mapping[str, Any]], num_classes: int) -> Tree:
    """A Tree from plain node records, node 0 the root: internal nodes have ``feature``,
    ``left``, ``right`` and either ``threshold`` or ``left_categories``; leaves have ``counts``."""
    size = len(nodes)
    categories = [c for n in nodes for c in n.get("left_categories") or ()]
    width = int(max(categories, default=0)) + 2  # room for values right of every left set
    feature = np.full(size, LEAF, dtype=np.int64)
    threshold = np.full(size, np.nan)
    left_categories = np.zeros((size, width), dtype=bool)
    left = np.zeros(size, dtype=np.int64)
    right = np.zeros(size, dtype=np.int64)
    leaf_votes = np.zeros((size, num_classes))
    for i, n in enumerate(nodes):
        if "counts" in n:
            counts = [float(c) for c in n["counts"]]
            total = sum(counts)
            if total != 0:  # Spark skips a leaf without counts
                leaf_votes[i] = [c / total for c in counts]
            continue
        feature[i], left[i], right[i] = n["feature"], n["left"], n["right"]
        if n.get("left_categories") is not None:
            left_categories[i, [int(c) for c in n["left_categories"]]] = True
        else:
            threshold[i] = float(n["threshold"])
    return Tree(feature, threshold, left_categories, left, right, leaf_votes, _depth(nodes))


def _depth(nodes: Sequence[Mapping[str, Any]]) -> int:
    depth, level = 0, [0]
    while True:
        level = [c for i in level if "counts" not in nodes[i] for c in (nodes[i]["left"], nodes[i]["right"])]
        if not level:
            return depth
        depth += 1


def compile_pipeline(model: Any) -> CompiledForest:
    """Read a fitted pyspark PipelineModel (indexers, assembler, forest) into a CompiledForest."""
    from pyspark.ml.classification import RandomForestClassificationModel
    from pyspark.ml.feature import StringIndexerModel, VectorAssembler

    *front, assembler, forest = model.stages
    if not isinstance(forest, RandomForestClassificationModel) or not isinstance(assembler, VectorAssembler):
        raise Unsupported(f"expected ... VectorAssembler, RandomForestClassificationModel; got {model.stages}")
    if forest.isSet("thresholds"):
        raise Unsupported("class thresholds are set on the forest")
    if assembler.getOutputCol() != forest.getFeaturesCol():
        raise Unsupported("the assembler does not feed the forest")
    indexers = []
    for stage in front:
        if not isinstance(stage, StringIndexerModel) or stage.getHandleInvalid() != "keep":
            raise Unsupported(f"only StringIndexerModels with handleInvalid='keep' before the assembler: {stage}")
        if stage.getOutputCol() != f"{stage.getInputCol()}_index":
            raise Unsupported(f"indexer output {stage.getOutputCol()} is not named <input>_index")
        indexers.append(Indexer(stage.getInputCol(), {label: i for i, label in enumerate(stage.labels)}))
    trees = tuple(tree_from_nodes(_java_tree_nodes(t._java_obj.rootNode()), forest.numClasses) for t in forest.trees)
    return CompiledForest(tuple(indexers), tuple(assembler.getInputCols()), trees, forest.numClasses)


def _java_tree_nodes(root: Any) -> list[dict]:
    """Walk a JVM tree (org.apache.spark.ml.tree.Node) into plain node records, root first."""
    nodes: list[dict] = []
    pending: list[tuple[Any, int | None, str | None]] = [(root, None, None)]
    while pending:
        java_node, parent, side = pending.pop()
        index = len(nodes)
        if parent is not None:
            nodes[parent][side] = index
        if java_node.getClass().getSimpleName() == "InternalNode":
            split = java_node.split()
            record: dict = {"feature": split.featureIndex()}
            if split.getClass().getSimpleName() == "CategoricalSplit":
                record["left_categories"] = list(split.leftCategories())
            else:
                record["threshold"] = split.threshold()
            nodes.append(record)
            pending.append((java_node.rightChild(), index, "right"))
            pending.append((java_node.leftChild(), index, "left"))
        else:
            nodes.append({"counts": list(java_node.impurityStats().stats())})
    return nodes


def probe_rows(compiled: CompiledForest, extra_categories: Iterable[str] = ("?",)) -> list[dict]:
    """Rows that reach every split on both sides: each threshold, just above it, and every
    known and one unseen category, cycled so each row mixes different features."""
    numeric: dict[int, list[float]] = {}
    for tree in compiled.trees:
        for f, t in zip(tree.feature, tree.threshold):
            if f != LEAF and not np.isnan(t):
                numeric.setdefault(int(f), []).extend([float(t), float(np.nextafter(t, np.inf))])
    categories = {ix.column: [*ix.index, *extra_categories] for ix in compiled.indexers}
    count = max([len(v) for v in numeric.values()] + [len(v) for v in categories.values()] + [1])
    rows = []
    for i in range(count):
        row: dict = {column: values[i % len(values)] for column, values in categories.items()}
        for position, name in enumerate(compiled.feature_columns):
            if name.endswith("_index") and name[: -len("_index")] in categories:
                continue
            values = numeric.get(position) or [0.0]
            row[name] = values[(i * 7 + position) % len(values)]
        rows.append(row)
    return rows
