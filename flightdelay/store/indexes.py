"""The indexes that serve the platform's queries, created before the first query.

FerretDB 1.24's own ``createIndexes`` builds btree indexes on ``(_jsonb->'f')``, which cannot
serve the ``@>`` it filters with (FerretDB issues #4646, #4209), so on PostgreSQL the platform
adds GIN ``jsonb_path_ops`` indexes on every field it filters by, straight in PostgreSQL. On
SQLite FerretDB pushes down only ``_id`` equality, written ``_ferretdb_sjson->'$._id'``, while its
own ``_id`` index is on another spelling: the matching expression index is added. On MongoDB
(docker compose) the same plan becomes native indexes.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from typing import Callable

from pymongo import ASCENDING, IndexModel
from pymongo.database import Database
from pymongo.errors import CollectionInvalid

from flightdelay.settings import Settings

POSTGRESQL, SQLITE, MONGODB = "postgresql", "sqlite", "mongodb"


@dataclass(frozen=True)
class CollectionIndexes:
    collection_setting: str  # the Settings field that names the collection
    filtered_by: tuple[str, ...]  # top-level fields the platform's queries test for equality
    native: tuple[IndexModel, ...] = ()  # MongoDB's own indexes (_id is always indexed there)

    def name(self, settings: Settings) -> str:
        return getattr(settings, self.collection_setting)


INDEX_PLAN = (
    CollectionIndexes(
        "predictions_collection",
        # _id is the UUID (the scorer writes it so): a second index on UUID would only cost inserts
        ("_id", "ScoredDay"),
        (IndexModel([("UUID", ASCENDING)], unique=True), IndexModel([("ScoredDay", ASCENDING)])),
    ),
    CollectionIndexes(
        "flights_collection",
        ("_id", "FlightDate"),
        (IndexModel([("FlightDate", ASCENDING)]), IndexModel([("Origin", ASCENDING), ("Dest", ASCENDING)])),
    ),
    CollectionIndexes("history_days_collection", ("_id",)),
    CollectionIndexes("distances_collection", ("_id",), (IndexModel([("Origin", ASCENDING), ("Dest", ASCENDING)]),)),
    CollectionIndexes(
        "model_registry_collection",
        ("_id", "status"),
        (IndexModel([("version", ASCENDING)], unique=True), IndexModel([("status", ASCENDING)])),
    ),
)


def store_flavour(db: Database, settings: Settings) -> str:
    """MongoDB itself, or FerretDB on PostgreSQL or SQLite (FerretDB names itself in buildInfo)."""
    if "ferretdbVersion" not in db.client.admin.command("buildInfo"):
        return MONGODB
    return SQLITE if settings.mongo_backend == SQLITE else POSTGRESQL


def ensure_indexes(db: Database, settings: Settings, log: Callable[[str], None] = print) -> list[str]:
    """Create every collection of the plan and the indexes its queries need (idempotent); returns
    the indexes created now."""
    flavour = store_flavour(db, settings)
    present = set(db.list_collection_names())
    for plan in INDEX_PLAN:
        if plan.name(settings) not in present:
            try:
                db.create_collection(plan.name(settings))
            except CollectionInvalid:  # another client created it meanwhile
                pass
    if flavour == MONGODB:
        created = _native_indexes(db, settings)
    elif flavour == SQLITE:
        created = _sqlite_id_indexes(db, settings)
    else:
        created = _gin_indexes(db, settings)
    for line in created:
        log(f"  index created: {line}")
    return created


def _native_indexes(db: Database, settings: Settings) -> list[str]:
    created = []
    for plan in INDEX_PLAN:
        if plan.native:
            collection = db[plan.name(settings)]
            existing = set(collection.index_information())
            names = collection.create_indexes(list(plan.native))
            created += [f"{collection.name}.{name}" for name in names if name not in existing]
    return created


def gin_index_name(table: str, field: str) -> str:
    """PostgreSQL names are at most 63 bytes; FerretDB's table names can be that long already."""
    return f"flightdelay_gin_{hashlib.sha1(f'{table}/{field}'.encode()).hexdigest()[:20]}"


def _gin_indexes(db: Database, settings: Settings) -> list[str]:
    from psycopg2 import sql

    from flightdelay.store import postgres

    created = []
    with postgres.connect(settings, postgres.FERRETDB) as connection, connection.cursor() as cursor:
        for plan in INDEX_PLAN:
            table = _ferretdb_table(cursor, db.name, plan.name(settings))
            concurrently = sql.SQL("CONCURRENTLY " if _holds_many_rows(cursor, db.name, table) else "")
            for field in plan.filtered_by:
                index = gin_index_name(table, field)
                valid = _index_valid(cursor, db.name, index)
                if valid:
                    continue
                if valid is False:  # a concurrent build that was interrupted leaves an invalid index
                    cursor.execute(
                        sql.SQL("DROP INDEX CONCURRENTLY {}.{}").format(sql.Identifier(db.name), sql.Identifier(index))
                    )
                # fastupdate off: a search never wades through a pending list of recent inserts
                cursor.execute(
                    sql.SQL(
                        "CREATE INDEX {}{} ON {}.{} USING gin ((_jsonb -> {}) jsonb_path_ops) WITH (fastupdate = off)"
                    ).format(
                        concurrently, sql.Identifier(index), sql.Identifier(db.name), sql.Identifier(table), sql.Literal(field)
                    )
                )
                created.append(f"{plan.name(settings)}.{field} (GIN {index})")
    return created


def _holds_many_rows(cursor, schema: str, table: str, many: int = 10_000) -> bool:
    """A collection that already holds many documents gets its index built CONCURRENTLY, so it
    keeps taking inserts meanwhile; a small one is indexed at once (a concurrent build waits for
    every older transaction of the database first)."""
    from psycopg2 import sql

    cursor.execute(
        sql.SQL("SELECT count(*) FROM (SELECT 1 FROM {}.{} LIMIT %s) AS head").format(
            sql.Identifier(schema), sql.Identifier(table)
        ),
        (many,),
    )
    return cursor.fetchone()[0] >= many


def _index_valid(cursor, schema: str, index: str) -> bool | None:
    """True for a usable index, False for an invalid one, None when there is none."""
    cursor.execute(
        "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s",
        (schema, index),
    )
    row = cursor.fetchone()
    return None if row is None else bool(row[0])


def _ferretdb_table(cursor, schema: str, collection: str) -> str:
    """The PostgreSQL table FerretDB keeps a collection in (its metadata table says which)."""
    from psycopg2 import sql

    cursor.execute(
        sql.SQL("SELECT _jsonb ->> 'table' FROM {}._ferretdb_database_metadata WHERE _jsonb ->> '_id' = %s").format(
            sql.Identifier(schema)
        ),
        (collection,),
    )
    row = cursor.fetchone()
    if row is None:
        raise LookupError(f"FerretDB has no table for {schema}.{collection}")
    return row[0]


def ferretdb_tables(settings: Settings, database: str) -> dict[str, str]:
    """Collection -> PostgreSQL table of one FerretDB database (for EXPLAIN and the benchmark)."""
    from psycopg2 import sql

    from flightdelay.store import postgres

    with postgres.connect(settings, postgres.FERRETDB) as connection, connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("SELECT _jsonb ->> '_id', _jsonb ->> 'table' FROM {}._ferretdb_database_metadata").format(
                sql.Identifier(database)
            )
        )
        return dict(cursor.fetchall())


def _sqlite_id_indexes(db: Database, settings: Settings) -> list[str]:
    path = settings.var_dir / "ferretdb" / "data" / f"{db.name}.sqlite"
    created = []
    # mode=rw: never create a file FerretDB did not (a client misconfigured as SQLite would)
    connection = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=30)
    try:
        tables = dict(connection.execute("SELECT name, table_name FROM _ferretdb_collections"))
        for plan in INDEX_PLAN:
            table = tables[plan.name(settings)]
            index = f"{table}_flightdelay_id"
            exists = connection.execute("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", (index,))
            if exists.fetchone():
                continue
            # written exactly as FerretDB's pushed-down filter, or SQLite will not use it
            connection.execute(f"CREATE INDEX IF NOT EXISTS \"{index}\" ON \"{table}\" (_ferretdb_sjson->'$._id')")
            created.append(f"{plan.name(settings)}._id (SQLite {index})")
        connection.commit()
    finally:
        connection.close()
    return created
