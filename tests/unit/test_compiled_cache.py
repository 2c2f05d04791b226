"""The scorer's cache of checked compiled models: saved once, loaded on restart, never half read."""

from __future__ import annotations

import stat

import numpy as np
import pytest

from flightdelay.model.compiled import CompiledForest, Indexer, Tree
from flightdelay.scoring import compiled_cache
from flightdelay.settings import Settings


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    monkeypatch.setenv("FLIGHTDELAY_VAR_DIR", str(tmp_path))
    return Settings()


def tiny_forest() -> CompiledForest:
    """One stump on DepDelay: class 0 up to 10 minutes, class 1 above."""
    stump = Tree(
        feature=np.array([0, -1, -1]),
        threshold=np.array([10.0, np.nan, np.nan]),
        left_set=np.array([-1, -1, -1]),  # no categorical split
        left_sets=np.zeros((0, 1), dtype=np.uint8),
        left=np.array([1, -1, -1]),
        right=np.array([2, -1, -1]),
        leaf_votes=np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]),
        depth=1,
    )
    return CompiledForest(indexers=(Indexer("Carrier", {"AA": 0}),), feature_columns=("DepDelay",),
                          trees=(stump,), num_classes=2)  # fmt: skip


def test_saved_then_loaded_privately(settings):
    forest = tiny_forest()
    path = compiled_cache.save(settings, "v1", forest)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = compiled_cache.load(settings, "v1")
    assert loaded is not None and loaded.indexers == forest.indexers
    rows = [{"Carrier": "AA", "DepDelay": 3.0}, {"Carrier": "ZZ", "DepDelay": 45.0}]
    assert loaded.predict(rows) == forest.predict(rows) == [(0.0, [1.0, 0.0]), (1.0, [0.0, 1.0])]


def test_an_unknown_version_is_none(settings):
    assert compiled_cache.load(settings, "never-saved") is None


def test_a_torn_file_is_dropped_and_rebuilt(settings):
    path = compiled_cache.cache_path(settings, "v2")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x80\x04 torn")
    lines = []
    assert compiled_cache.load(settings, "v2", lines.append) is None
    assert not path.exists() and "rebuilding" in lines[0]


def test_only_the_newest_versions_are_kept(settings):
    for n in range(compiled_cache.KEEP + 3):
        compiled_cache.save(settings, f"v{n}", tiny_forest())
    assert len(list(compiled_cache.cache_dir(settings).glob("*.pkl"))) == compiled_cache.KEEP


def test_the_version_in_use_outlives_newer_candidates(settings):
    compiled_cache.save(settings, "served", tiny_forest())
    for n in range(compiled_cache.KEEP - 1):
        compiled_cache.save(settings, f"candidate{n}", tiny_forest())
    assert compiled_cache.load(settings, "served") is not None  # the scorer loads it again
    for n in range(compiled_cache.KEEP - 1, compiled_cache.KEEP + 2):  # rejected candidates pile up
        compiled_cache.save(settings, f"candidate{n}", tiny_forest())
    assert compiled_cache.load(settings, "served") is not None


def test_the_served_version_named_by_the_training_is_never_pruned(settings):
    compiled_cache.save(settings, "served", tiny_forest())
    for n in range(compiled_cache.KEEP + 3):
        compiled_cache.save(settings, f"candidate{n}", tiny_forest(), spare="served")
    assert compiled_cache.load(settings, "served") is not None
