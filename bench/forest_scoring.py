"""Benchmark: the compiled (numpy) forest's scoring time per batch, for forests of any shape.

    .venv/bin/python bench/forest_scoring.py [--trees 20,100] [--depth 5,16] [--rows 1,100,5000]

Builds random full-size trees (every split continuous or categorical, as Spark's are) of each
shape, then prints the median and p99 time of CompiledForest.predict for batches of each size,
and the forest's node count and pickled size (what the scorer ships to its executors).
Not a test: it prints figures, it asserts nothing.
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import time

import numpy as np

from flightdelay.model.compiled import CompiledForest, Indexer, tree_from_nodes

CATEGORIES = {"Carrier": 16, "Origin": 3, "Dest": 105, "Route": 223}
NUMERIC = ("DepDelay", "Distance", "DayOfMonth", "DayOfWeek", "DayOfYear")


def random_tree(depth: int, rng: np.random.Generator, features: int, arities: dict[int, int]) -> list[dict]:
    """A full tree of this depth, numbered depth first like Spark's saved trees."""
    nodes: list[dict] = []

    def grow(level: int) -> int:
        index = len(nodes)
        nodes.append({})
        if level == depth:
            nodes[index] = {"counts": list(rng.integers(0, 50, size=4) + 1)}
            return index
        feature = int(rng.integers(features))
        record: dict = {"feature": feature}
        if feature in arities:
            record["left_categories"] = sorted(rng.choice(arities[feature], arities[feature] // 2, replace=False))
        else:
            record["threshold"] = float(rng.normal(0, 50))
        record["left"] = grow(level + 1)
        record["right"] = grow(level + 1)
        nodes[index] = record
        return index

    grow(0)
    return nodes


def forest(trees: int, depth: int, seed: int = 7) -> CompiledForest:
    rng = np.random.default_rng(seed)
    columns = (*NUMERIC, *(f"{c}_index" for c in CATEGORIES))
    arities = {len(NUMERIC) + i: n for i, n in enumerate(CATEGORIES.values())}
    return CompiledForest(
        indexers=tuple(Indexer(c, {f"{c}{i}": i for i in range(n)}) for c, n in CATEGORIES.items()),
        feature_columns=columns,
        trees=tuple(tree_from_nodes(random_tree(depth, rng, len(columns), arities), 4) for _ in range(trees)),
        num_classes=4,
    )


def requests(count: int, rng: np.random.Generator) -> list[dict]:
    rows = []
    for _ in range(count):
        row = {c: f"{c}{rng.integers(n + 1)}" for c, n in CATEGORIES.items()}  # one beyond: unseen
        row.update({name: float(rng.normal(0, 50)) for name in NUMERIC})
        rows.append(row)
    return rows


def timings(model: CompiledForest, batch: list[dict], repeats: int) -> tuple[float, float]:
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        model.predict(batch)
        seconds.append(time.perf_counter() - started)
    seconds.sort()
    return statistics.median(seconds) * 1000, seconds[int(len(seconds) * 0.99) - 1] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trees", default="20,100")
    parser.add_argument("--depth", default="5,16", help="full trees: 2^depth leaves (Spark's stop earlier)")
    parser.add_argument("--rows", default="1,100,5000")
    parser.add_argument("--repeats", type=int, default=100)
    args = parser.parse_args()
    rng = np.random.default_rng(11)
    sizes = [int(r) for r in args.rows.split(",")]
    print(f"{'trees':>5} {'depth':>5} {'nodes':>10} {'pickled MB':>10}  " +
          "  ".join(f"{f'{n} rows p50/p99 ms':>22}" for n in sizes))  # fmt: skip
    for trees, depth in zip(map(int, args.trees.split(",")), map(int, args.depth.split(","))):
        built = time.perf_counter()
        model = forest(trees, depth)
        model.predict(requests(1, rng))  # joins the trees once, as the scorer's first batch does
        nodes = sum(len(t.feature) for t in model.trees)
        size_mb = len(pickle.dumps(model)) / 1e6
        cells = []
        for n in sizes:
            p50, p99 = timings(model, requests(n, rng), args.repeats if n < 1000 else max(5, args.repeats // 10))
            cells.append(f"{p50:>10.2f} / {p99:>9.2f}")
        print(f"{trees:>5} {depth:>5} {nodes:>10,} {size_mb:>10.1f}  " + "  ".join(f"{c:>22}" for c in cells),
              f"(built in {time.perf_counter() - built:.0f}s)", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
