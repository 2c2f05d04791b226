"""Bulk inserts written straight into FerretDB's PostgreSQL table: the scorer's predictions and
the import's flights.

At 5,000 predictions/s the MongoDB insert was the scorer's ceiling: FerretDB 1.24 decodes each
BSON document, re-encodes it as JSON and sends it in INSERTs of 100 rows (a size fixed in its
embeddable package), ~26 % of a core at 4,800/s on top of PostgreSQL's own work. These inserts
therefore skip that hop on FerretDB/PostgreSQL, as the bulk reads do (store.bulk): they write the
rows FerretDB itself would write, in large statements.

A row is FerretDB's "sjson": the document's values as JSON plus a ``$s`` schema naming each BSON
type (what pymongo would send: int32 or int64 for an int, double for a float, and so on), in the
document's key order. tests/integration/test_store.py holds it equal to FerretDB's own encoding of
a real prediction. Every read through FerretDB then sees the documents unchanged, PostgreSQL keeps
every index (FerretDB's unique ``_id`` one and ours), and a replayed prediction is skipped by the
unique ``_id`` index (``ON CONFLICT DO NOTHING``) as a duplicate key is by ``insert_many``.
A document this module cannot encode (a type outside the list) is left to FerretDB, which judges it.
MongoDB (compose) and FerretDB/SQLite keep ``insert_many``.
"""

from __future__ import annotations

import numbers
from typing import Any, Iterable, Mapping

import orjson

from flightdelay.settings import Settings
from flightdelay.store import postgres

INT32 = range(-(2**31), 2**31)
#: rows per INSERT: large enough that the statement's overhead vanishes, small enough to hold in memory
ROWS_PER_STATEMENT = 5_000


class NotEncodable(TypeError):
    """A value FerretDB's storage format is not written for here (FerretDB itself judges it)."""


def _element(value: Any) -> dict:
    """The ``$s`` entry of one value: its BSON type, as FerretDB records it."""
    if isinstance(value, bool):
        return {"t": "bool"}
    if isinstance(value, numbers.Integral):
        return {"t": "int" if int(value) in INT32 else "long"}
    if isinstance(value, numbers.Real):
        if value != value or value in (float("inf"), float("-inf")):
            raise NotEncodable(f"non-finite double {value}")
        return {"t": "double"}
    if isinstance(value, str):
        return {"t": "string"}
    if value is None:
        return {"t": "null"}
    if isinstance(value, (list, tuple)):
        return {"t": "array", "i": [_element(item) for item in value]}
    if isinstance(value, Mapping):
        return {"t": "object", "$s": _schema(value)}
    raise NotEncodable(f"no FerretDB storage type written here for {type(value).__name__}")


def _schema(document: Mapping[str, Any]) -> dict:
    if not document:
        return {}
    for key in document:
        if not isinstance(key, str) or key.startswith("$") or "." in key:
            raise NotEncodable(f"field name {key!r}")
    return {"p": {key: _element(value) for key, value in document.items()}, "$k": list(document)}


def _kind(value: Any) -> Any:
    """What the schema of a value depends on (its type; an int's size; an array's items), or None
    for a value the cache does not cover (a nested document, anything unusual)."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return kind
    if kind is int:
        return "int" if value in INT32 else "long"
    if isinstance(value, float):  # numpy's float64 too: a double either way
        return float if value - value == 0 else None  # NaN and infinities are judged uncached
    if kind is list:
        kinds = tuple(_kind(item) for item in value)
        return None if None in kinds else kinds
    return None


#: schema JSON by the kinds of a document's fields: predictions come in a handful of shapes, and
#: building the schema is most of the encoding's cost (32 -> ~6 µs a document)
_SCHEMAS: dict[tuple, bytes] = {}
_SCHEMAS_MAX = 1_000


def stored_form(document: Mapping[str, Any]) -> bytes:
    """The JSON FerretDB 1.24 stores for ``document`` (raises NotEncodable)."""
    shape = tuple((key, _kind(value)) for key, value in document.items())
    schema = _SCHEMAS.get(shape)
    if schema is None:
        schema = orjson.dumps(_schema(document))
        if len(_SCHEMAS) < _SCHEMAS_MAX and all(kind is not None for _, kind in shape):
            _SCHEMAS[shape] = schema
    try:
        values = orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY)
    except TypeError as exc:  # orjson.JSONEncodeError
        raise NotEncodable(str(exc)) from exc
    if len(values) <= 2:  # {}: no fields
        return b'{"$s":' + schema + b"}"
    return b'{"$s":' + schema + b"," + values[1:]


def direct_table(collection: Any, settings: Settings) -> DirectTable | None:
    """Where to write ``collection``'s documents directly, or None: not FerretDB on PostgreSQL,
    turned off (STORE_DIRECT_WRITES), or no table yet (FerretDB makes it at the first insert)."""
    from flightdelay.store.indexes import POSTGRESQL, ferretdb_tables, store_flavour

    database = collection.database
    if not settings.store_direct_writes or store_flavour(database, settings) != POSTGRESQL:
        return None
    table = ferretdb_tables(settings, database.name).get(collection.name)
    return None if table is None else DirectTable(settings, database.name, table)


class DirectTable:
    """Inserts into one FerretDB collection's table; one connection, reopened after a failure."""

    def __init__(self, settings: Settings, database: str, table: str):
        from psycopg2 import sql

        self.settings = settings
        self.statement = sql.SQL(
            "INSERT INTO {}.{} (_jsonb) SELECT row::jsonb FROM unnest(%s::text[]) AS row ON CONFLICT DO NOTHING"
        ).format(sql.Identifier(database), sql.Identifier(table))
        self.connection = None

    def insert(self, rows: list[str]) -> int:
        """Insert the stored forms; returns how many were new (a duplicate _id is skipped)."""
        import psycopg2

        try:
            if self.connection is None:
                self.connection = postgres.open_connection(self.settings, postgres.FERRETDB)
                with self.connection.cursor() as cursor:
                    # the server commits asynchronously (embedded/postgres.py): a crash could lose an
                    # insert it acknowledged, after the batch was committed; these wait for the WAL
                    cursor.execute("SET synchronous_commit = on")
            inserted = 0
            with self.connection.cursor() as cursor:
                for start in range(0, len(rows), ROWS_PER_STATEMENT):
                    cursor.execute(self.statement, (rows[start : start + ROWS_PER_STATEMENT],))
                    inserted += cursor.rowcount
            return inserted
        except psycopg2.Error:
            self.close()  # a new connection next time: this one may be broken
            raise

    def close(self) -> None:
        if self.connection is not None:
            connection, self.connection = self.connection, None
            connection.close()


def encode_all(documents: Iterable[Mapping[str, Any]]) -> tuple[list[str], list[Mapping[str, Any]]]:
    """(stored forms, documents left to FerretDB)."""
    rows, others = [], []
    for document in documents:
        try:
            rows.append(stored_form(document).decode())
        except NotEncodable:
            others.append(document)
    return rows, others
