"""The embedded PostgreSQL's roles, generated passwords and connections.

One server holds two databases, each owned by its own role: ``ferretdb`` (FerretDB's storage of
every MongoDB collection) and ``airflow`` (Airflow's metadata). The superuser ``postgres`` only
provisions them. Passwords are generated at first start into var/secrets/postgres.json (0600).
FerretDB itself holds no password: every MongoDB client logs in (PLAIN) as the ``ferretdb`` role,
and FerretDB opens PostgreSQL connections with that login.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator
from urllib.parse import quote

from flightdelay.secrets import generated_secrets, new_password
from flightdelay.settings import Settings

SUPERUSER = "postgres"
FERRETDB = "ferretdb"
AIRFLOW = "airflow"
ROLES = (SUPERUSER, FERRETDB, AIRFLOW)


def passwords(settings: Settings) -> dict[str, str]:
    """Role -> password, generated once (POSTGRES_PASSWORD, if set, is the superuser's; MONGO_PASSWORD,
    if set, the ``ferretdb`` role's: MongoDB clients log in as that role through FerretDB)."""
    configured = {SUPERUSER: settings.postgres_password}
    if settings.mongo_user == FERRETDB:
        configured[FERRETDB] = settings.mongo_password
    return generated_secrets(
        settings.secrets_dir / "postgres.json",
        {role: new_password for role in ROLES},
        configured=configured,
    )


def url(settings: Settings, role: str, scheme: str = "postgresql") -> str:
    """A connection URL for ``role`` to its own database (the superuser's: ``postgres``)."""
    secret = quote(passwords(settings)[role], safe="")
    return f"{scheme}://{role}:{secret}@{settings.postgres_host}:{settings.postgres_port}/{role}"


def url_without_login(settings: Settings, database: str) -> str:
    """The server and a database, no user or password: FerretDB's base URL, which anonymous MongoDB
    clients would connect with (each client brings its own login instead)."""
    return f"postgres://{settings.postgres_host}:{settings.postgres_port}/{database}"


def sqlalchemy_url(settings: Settings) -> str:
    """Airflow's metadata database."""
    return url(settings, AIRFLOW, scheme="postgresql+psycopg2")


def open_connection(
    settings: Settings,
    role: str = SUPERUSER,
    *,
    timeout: float = 5.0,
    password: str | None = None,
    autocommit: bool = True,
):
    """A psycopg2 connection as ``role`` to its database (autocommit unless a server-side cursor
    needs a transaction); the caller closes it."""
    import psycopg2

    connection = psycopg2.connect(
        host=settings.postgres_host,
        port=settings.postgres_port,
        user=role,
        password=passwords(settings)[role] if password is None else password,
        dbname=role,
        connect_timeout=max(1, int(timeout)),
        application_name="flightdelay",
    )
    connection.autocommit = autocommit
    return connection


@contextmanager
def connect(
    settings: Settings,
    role: str = SUPERUSER,
    *,
    timeout: float = 5.0,
    password: str | None = None,
    autocommit: bool = True,
) -> Iterator:
    """``open_connection``, closed afterwards."""
    connection = open_connection(settings, role, timeout=timeout, password=password, autocommit=autocommit)
    try:
        yield connection
    finally:
        connection.close()


def provision(settings: Settings) -> None:
    """Create (or update the passwords of) the ``ferretdb`` and ``airflow`` roles, each owning
    its database. Idempotent; needs the superuser."""
    secrets = passwords(settings)
    with connect(settings, SUPERUSER) as connection, connection.cursor() as cursor:
        for role in (FERRETDB, AIRFLOW):
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
            verb = "ALTER" if cursor.fetchone() else "CREATE"
            # identifiers are our constants; the password goes as a bound literal
            cursor.execute(f"{verb} ROLE {role} LOGIN PASSWORD %s", (secrets[role],))
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (role,))
            if not cursor.fetchone():
                cursor.execute(f"CREATE DATABASE {role} OWNER {role}")
        # FerretDB filters as `_jsonb -> $1 @> $2`, the field name a parameter: only a plan made
        # for the actual values matches the expression indexes, never a cached generic plan
        cursor.execute(f"ALTER DATABASE {FERRETDB} SET plan_cache_mode = force_custom_plan")
