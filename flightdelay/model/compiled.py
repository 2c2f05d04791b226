"""The promoted PipelineModel evaluated in the driver with numpy, for low-latency serving.

Why: on this 2-core machine Spark ML's ``PipelineModel.transform`` costs about a second of
planning and task scheduling per micro-batch whatever the batch size, so a streaming request
waited seconds. The fitted model itself is small (four string indexes, a column order and from a
few hundred tree nodes to a million for 100 deep trees), so the scorer reads those out of the
saved PipelineModel once per version and applies them with the same arithmetic Spark uses:

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
from functools import cached_property
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
    left_set: np.ndarray  # int: a categorical split's row in left_sets, -1 for other nodes
    left_sets: np.ndarray  # uint8 [set, category bits]: np.packbits of each left set, 8x smaller
    left: np.ndarray  # int: left child
    right: np.ndarray  # int: right child
    leaf_votes: np.ndarray  # float [node, class]: a leaf's class counts / their total
    depth: int

    @property
    def width(self) -> int:
        """Categories a left set can hold; any index at or past the end goes right."""
        return self.left_sets.shape[1] * 8


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

    @cached_property
    def _joined(self) -> tuple[Tree, np.ndarray]:
        """Every tree's nodes in one Tree, and each tree's root: each step descends all trees at
        once (100 trees of depth 16 cost 16 steps per batch, not 1,600)."""
        return _concatenate(self.trees)

    def votes(self, x: np.ndarray) -> np.ndarray:
        joined, roots = self._joined
        leaves = _leaves(joined, x, roots)
        total = np.zeros((x.shape[0], self.num_classes))
        for column in range(len(roots)):
            total += joined.leaf_votes[leaves[:, column]]  # tree by tree, as Spark sums them
        return total

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_joined"}  # rebuilt where it is used

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


def _leaves(tree: Tree, x: np.ndarray, roots: np.ndarray) -> np.ndarray:
    """[row, root]: the leaf each row of x ends in from each root; all descend one level per step."""
    rows = np.arange(x.shape[0])[:, None]
    node = np.tile(roots, (x.shape[0], 1))
    for _ in range(tree.depth):
        feature = tree.feature[node]
        internal = feature != LEAF
        if not internal.any():
            break
        value = x[rows, np.where(internal, feature, 0)]
        left_set = tree.left_set[node]
        category = np.clip(value, 0, tree.width - 1).astype(np.int64)
        packed = tree.left_sets[np.maximum(left_set, 0), category >> 3]
        in_left_set = (packed >> (7 - (category & 7))) & 1 == 1  # np.packbits: first bit highest
        go_left = np.where(left_set >= 0, in_left_set, value <= tree.threshold[node])
        node = np.where(internal, np.where(go_left, tree.left[node], tree.right[node]), node)
    return node


def _concatenate(trees: Sequence[Tree]) -> tuple[Tree, np.ndarray]:
    """One Tree holding every tree's nodes, each tree's node numbers and left sets shifted past
    the previous trees', and where each tree starts (its root)."""
    starts = np.cumsum([0] + [len(t.feature) for t in trees[:-1]])
    set_starts = np.cumsum([0] + [len(t.left_sets) for t in trees[:-1]])
    width = max(t.left_sets.shape[1] for t in trees)
    sets = [np.pad(t.left_sets, ((0, 0), (0, width - t.left_sets.shape[1]))) for t in trees]
    joined = Tree(
        feature=np.concatenate([t.feature for t in trees]),
        threshold=np.concatenate([t.threshold for t in trees]),
        left_set=np.concatenate([np.where(t.left_set >= 0, t.left_set + s, -1) for t, s in zip(trees, set_starts)]),
        # one row at least: a look-up is made (and its answer ignored) for continuous splits too
        left_sets=np.concatenate(sets) if sum(map(len, sets)) else np.zeros((1, width), dtype=np.uint8),
        left=np.concatenate([t.left + s for t, s in zip(trees, starts)]),
        right=np.concatenate([t.right + s for t, s in zip(trees, starts)]),
        leaf_votes=np.concatenate([t.leaf_votes for t in trees]),
        depth=max(t.depth for t in trees),
    )
    return joined, starts


def tree_from_nodes(nodes: Sequence[Mapping[str, Any]], num_classes: int) -> Tree:
    """A Tree from plain node records, node 0 the root: internal nodes have ``feature``,
    ``left``, ``right`` and either ``threshold`` or ``left_categories``; leaves have ``counts``."""
    size = len(nodes)
    categories = [c for n in nodes for c in n.get("left_categories") or ()]
    width = int(max(categories, default=0)) + 2  # room for values right of every left set
    feature = np.full(size, LEAF, dtype=np.int64)
    threshold = np.full(size, np.nan)
    left_set = np.full(size, -1, dtype=np.int64)
    sets: list[np.ndarray] = []
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
            members = np.zeros(width, dtype=bool)
            members[[int(c) for c in n["left_categories"]]] = True
            left_set[i] = len(sets)
            sets.append(np.packbits(members))
        else:
            threshold[i] = float(n["threshold"])
    left_sets = np.array(sets, dtype=np.uint8).reshape(len(sets), (width + 7) // 8)
    return Tree(feature, threshold, left_set, left_sets, left, right, leaf_votes, _depth(nodes))


def _depth(nodes: Sequence[Mapping[str, Any]]) -> int:
    depth, level = 0, [0]
    while True:
        level = [c for i in level if "counts" not in nodes[i] for c in (nodes[i]["left"], nodes[i]["right"])]
        if not level:
            return depth
        depth += 1


def compile_pipeline(model: Any, spark: Any = None, saved_at: str | None = None) -> CompiledForest:
    """Read a fitted pyspark PipelineModel (indexers, assembler, forest) into a CompiledForest;
    its trees from where it was saved when ``saved_at`` (with ``spark``) says so."""
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
    if saved_at is not None:
        # Spark names a stage's folder by its index (zero-padded to the count's digits) and uid
        folder = f"{len(model.stages) - 1:0{len(str(len(model.stages)))}d}_{forest.uid}"
        nodes = saved_tree_nodes(spark, f"{saved_at}/stages/{folder}")
    else:
        nodes = [_java_tree_nodes(t._java_obj.rootNode()) for t in forest.trees]
    trees = tuple(tree_from_nodes(tree_nodes, forest.numClasses) for tree_nodes in nodes)
    return CompiledForest(tuple(indexers), tuple(assembler.getInputCols()), trees, forest.numClasses)


def saved_tree_nodes(spark: Any, forest_path: str) -> list[list[dict]]:
    """Each tree's plain node records, read in one query from a saved forest's data (one row per
    node, numbered depth first from the root, 0). Walking the JVM's nodes instead costs ~9 py4j
    calls a node: minutes for a forest of 100 deep trees."""
    columns = ["treeID", "id", "leftChild", "rightChild", "impurityStats", "featureIndex",
               "leftCategoriesOrThreshold", "numCategories"]  # fmt: skip
    data = spark.read.parquet(f"{forest_path}/data")
    table = data.select("treeID", "nodeData.*", "nodeData.split.*").select(*columns).toArrow()
    trees: dict[int, dict[int, dict]] = {}
    for tree, node, left, right, counts, feature, values, arity in zip(*(table[c].to_pylist() for c in columns)):
        if left < 0:
            record: dict = {"counts": counts}
        elif arity < 0:  # a continuous split saves its threshold alone
            record = {"feature": feature, "left": left, "right": right, "threshold": values[0]}
        else:
            record = {"feature": feature, "left": left, "right": right, "left_categories": values}
        trees.setdefault(tree, {})[node] = record
    return [[nodes[i] for i in range(len(nodes))] for _, nodes in sorted(trees.items())]


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
    thresholds: dict[int, set[float]] = {}  # Spark's bins keep these few (maxBins per feature)
    for tree in compiled.trees:
        for f, t in zip(tree.feature, tree.threshold):
            if f != LEAF and not np.isnan(t):
                thresholds.setdefault(int(f), set()).add(float(t))
    numeric = {f: [v for t in sorted(ts) for v in (t, float(np.nextafter(t, np.inf)))] for f, ts in thresholds.items()}
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
