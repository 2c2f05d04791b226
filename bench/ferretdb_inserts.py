"""Benchmark: how fast the MongoDB server takes prediction documents, as the scorer writes them.

    .venv/bin/python bench/ferretdb_inserts.py [--batch 20000] [--rounds 5] [--prefill 0] [--keep]

Needs the platform's MongoDB server (`flightdelay up ferretdb`). Inserts --rounds batches of
--batch prediction-shaped documents (_id = UUID, unique index on UUID, insert_many unordered: what
the scorer's MongoDB sink does) into the scratch collection `bench.prediction_inserts`, and prints
documents/s per round and the server's CPU time per document. The rate falls as the collection
grows (its two UUID indexes are random B-tree inserts): --prefill N first inserts N documents, to
measure at the size of a long-running installation. Its database is dropped afterwards unless
--keep. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid

from pymongo import MongoClient

from flightdelay.settings import get_settings

DATABASE, COLLECTION = "bench", "prediction_inserts"


def prediction(i: int) -> dict:
    key = str(uuid.uuid4())
    return {
        "_id": key, "UUID": key, "Origin": "ATL", "Dest": "SFO", "Carrier": "DL", "FlightNum": str(i % 9000),
        "FlightDate": "2026-11-27", "Route": "ATL-SFO", "Timestamp": "2026-11-27T12:00:00+00:00",
        "DepDelay": float(i % 60 - 10), "Distance": 2139.0, "DayOfYear": 331.0, "DayOfMonth": 27.0,
        "DayOfWeek": 5.0, "RequestProducedAt": "2026-11-27T12:00:00.120000+00:00", "Prediction": 1.0,
        "PredictionLabel": "slightly late", "Probabilities": [0.31, 0.42, 0.17, 0.1],
        "ModelVersion": "v20261127T000000Z", "ScoredAt": "2026-11-27T12:00:00.310000+00:00",
    }  # fmt: skip


def server_cpu_seconds() -> float | None:
    """CPU time of the embedded platform's FerretDB process (None when it is not ours)."""
    try:
        from flightdelay.embedded.ferretdb import FerretDB

        pid = FerretDB(get_settings()).pid()
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except Exception:  # another server, or not on this machine: report the rate only
        return None


def insert_round(collection, size: int) -> float:
    documents = [prediction(i) for i in range(size)]
    started = time.perf_counter()
    collection.insert_many(documents, ordered=False)
    return time.perf_counter() - started


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--prefill", type=int, default=0, help="documents to insert before measuring")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args(argv)
    settings = get_settings()
    client = MongoClient(settings.mongo_uri)
    collection = client[DATABASE][COLLECTION]
    collection.create_index("UUID", unique=True)
    try:
        for done in range(0, args.prefill, args.batch):
            insert_round(collection, min(args.batch, args.prefill - done))
            print(f"prefill: {done + args.batch:,} of {args.prefill:,}", flush=True)
        for number in range(1, args.rounds + 1):
            cpu_before = server_cpu_seconds()
            seconds = insert_round(collection, args.batch)
            cpu_after = server_cpu_seconds()
            cpu = "" if cpu_before is None or cpu_after is None else (
                f", server CPU {(cpu_after - cpu_before) / args.batch * 1e6:.0f} µs/document"
            )
            print(f"round {number}: {args.batch:,} documents in {seconds:.2f}s = {args.batch / seconds:,.0f}/s{cpu}", flush=True)
    finally:
        if not args.keep:
            client.drop_database(DATABASE)
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
