"""NiFi's output files: is a prediction there, and is it fresh?

NiFi's prediction flow (nifi/prediction_flow.json) writes every non-empty batch it consumed from
the Kafka response topic as one JSON array file in the NiFi output directory (settings
`nifi_output_dir`, var/nifi_output by default). PutFile writes under a hidden name and renames,
so a visible file is always complete. A batch delivered again after a NiFi crash replaces its
file, so a file's modification time is when it last changed. Files older than
`nifi_output_retention_days` are deleted daily (store_retention DAG); NiFi's HDFS copies stay.

Read by the Airflow sensor (plugins/flightdelay_airflow/nifi.py) and the canary check
(flightdelay/canary.py); imports nothing of the platform but its settings.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def _output_dir(output_dir: str | Path | None) -> Path:
    if output_dir is not None:
        return Path(output_dir)
    from flightdelay.settings import get_settings

    return get_settings().nifi_output_dir


def _records(path: Path) -> list[Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return data if isinstance(data, list) else []


def find_fresh_output(
    uuid: str | None = None,
    max_age_seconds: float = 600,
    output_dir: str | Path | None = None,
    uuid_field: str = "UUID",
    now: float | None = None,
) -> Path | None:
    """The newest output file modified within `max_age_seconds` that holds a record whose
    `uuid_field` is `uuid` (any fresh file when `uuid` is None); None when there is none."""
    folder = _output_dir(output_dir)
    if not folder.is_dir():
        return None
    cutoff = (now if now is not None else time.time()) - max_age_seconds
    fresh = []
    for path in folder.iterdir():
        if path.name.startswith(".") or not path.is_file():
            continue  # PutFile's temporary files
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:  # replaced meanwhile
            continue
        if mtime >= cutoff:
            fresh.append((mtime, path))
    for _, path in sorted(fresh, reverse=True):
        if uuid is None:
            return path
        if any(isinstance(r, dict) and str(r.get(uuid_field)) == uuid for r in _records(path)):
            return path
    return None


def find_in_nifi_output(uuid: str, newest: int = 50) -> str | None:
    """The newest output file, of the last `newest` written, whose text mentions `uuid`; None when none does."""
    folder = _output_dir(None)
    if not folder.is_dir():
        return None
    files = sorted(folder.iterdir(), key=lambda p: p.stat().st_mtime)[-newest:]
    for path in reversed(files):
        if uuid in path.read_text(errors="replace"):
            return str(path)
    return None


@dataclass(frozen=True)
class OutputCleanup:
    cutoff: float  # epoch seconds: files last changed before it were deleted
    deleted: int
    freed_bytes: int
    kept: int


def delete_old_output(
    max_age_days: float, output_dir: str | Path | None = None, now: float | None = None
) -> OutputCleanup:
    """Delete the output files last changed more than `max_age_days` ago, an abandoned hidden
    temporary file of PutFile's included: the folder would otherwise grow by a file per poll forever."""
    folder = _output_dir(output_dir)
    cutoff = (now if now is not None else time.time()) - max_age_days * 86_400
    deleted = freed = kept = 0
    for path in folder.iterdir() if folder.is_dir() else ():
        try:
            status = path.stat()
            if not path.is_file():
                continue
            if status.st_mtime >= cutoff:
                kept += 1
                continue
            path.unlink()
        except FileNotFoundError:  # replaced or removed meanwhile
            continue
        deleted += 1
        freed += status.st_size
    return OutputCleanup(cutoff, deleted, freed, kept)
