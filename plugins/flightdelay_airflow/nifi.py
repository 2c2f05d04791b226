"""Is NiFi's output present and fresh? A function and a sensor for the DAGs.

NiFi's prediction flow (nifi/prediction_flow.json) writes every non-empty batch it consumed from
the Kafka response topic as one JSON array file in the NiFi output directory (settings
`nifi_output_dir`, var/nifi_output by default). PutFile writes under a hidden name and renames,
so a visible file is always complete. A batch delivered again after a NiFi crash replaces its
file, so a file's modification time is when it last changed.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue


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


class NiFiOutputSensor(BaseSensorOperator):
    """Waits until NiFi's output directory has a file newer than `max_age_seconds` holding the
    record with the given UUID (any fresh file without one). Pushes the file's path as XCom."""

    template_fields = ("uuid", "output_dir")
    ui_color = "#728e9b"

    def __init__(
        self,
        *,
        uuid: str | None = None,
        max_age_seconds: float = 600,
        output_dir: str | None = None,
        uuid_field: str = "UUID",
        **kwargs,
    ):
        kwargs.setdefault("poke_interval", 5)
        kwargs.setdefault("timeout", 300)
        kwargs.setdefault("mode", "poke")
        super().__init__(**kwargs)
        self.uuid = uuid
        self.max_age_seconds = max_age_seconds
        self.output_dir = output_dir
        self.uuid_field = uuid_field

    def poke(self, context) -> PokeReturnValue:
        path = find_fresh_output(self.uuid, self.max_age_seconds, self.output_dir, self.uuid_field)
        what = f"record {self.uuid}" if self.uuid else "any file"
        if path is None:
            self.log.info("no output file newer than %ss with %s yet", self.max_age_seconds, what)
            return PokeReturnValue(is_done=False)
        self.log.info("found %s in %s", what, path)
        return PokeReturnValue(is_done=True, xcom_value=str(path))
