"""Checked compiled models kept on the scorer's disk, so a restarted scorer answers within seconds.

A version's numpy form is trusted only after it gave exactly what ``PipelineModel.transform``
gives on probing rows (serving.serving_model). Loading the PipelineModel from HDFS and running
that check takes 10-25 s on this machine, which a restart after a crash should not pay again:
the checked form is saved under ``var/score-stream/compiled/<version>.pkl`` (mode 0600, written by
the scorer itself) and a restart loads it instead. A version's model never changes once
registered, so the version is the key; a file that cannot be read is deleted and rebuilt. The
KEEP files used last are kept: the training saves every candidate here, rejected ones too, and the
version being served must not be the one pruned.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Callable

from flightdelay.model.compiled import CompiledForest
from flightdelay.settings import Settings

#: bump when CompiledForest changes shape: older files are then ignored
FORMAT = 2  # 2: left sets packed (model.compiled.Tree)
KEEP = 5


def cache_dir(settings: Settings) -> Path:
    return settings.var_dir / "score-stream" / "compiled"


def cache_path(settings: Settings, version: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in version)
    return cache_dir(settings) / f"{safe}.pkl"


def load(settings: Settings, version: str, log: Callable[[str], None] = print) -> CompiledForest | None:
    path = cache_path(settings, version)
    try:
        with path.open("rb") as handle:
            saved = pickle.load(handle)  # our own file, 0600 under var/: written by save() below
        if saved.get("format") == FORMAT and saved.get("version") == version:
            os.utime(path)  # in use: the pruning in save() spares it however many versions follow
            return saved["compiled"]
    except FileNotFoundError:
        return None
    except Exception as exc:  # a torn or older file: rebuilt from the PipelineModel
        log(f"compiled model cache {path} unusable ({type(exc).__name__}: {exc}); rebuilding it")
    path.unlink(missing_ok=True)
    return None


def save(settings: Settings, version: str, compiled: CompiledForest, spare: str | None = None) -> Path:
    """Save a version's checked form; prune to the KEEP files used last, never ``spare`` (the
    version being served, when the caller knows it)."""
    folder = cache_dir(settings)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = cache_path(settings, version)
    partial = path.with_suffix(".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        pickle.dump({"format": FORMAT, "version": version, "compiled": compiled}, handle)
    partial.replace(path)  # a reader sees the whole file or none
    kept = cache_path(settings, spare) if spare else None
    for old in sorted(folder.glob("*.pkl"), key=lambda p: p.stat().st_mtime)[:-KEEP]:
        if old != kept:
            old.unlink(missing_ok=True)
    return path
