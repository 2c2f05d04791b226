"""MongoDB wire protocol: FerretDB v1, built by `make install` from go/ferretdb.

Its storage is PostgreSQL (the ``postgres`` service; MONGO_BACKEND=postgresql, the default) or, for
tiny installs, SQLite files under var/ferretdb/data (MONGO_BACKEND=sqlite). Once it answers, the
collections and the indexes their queries need are created (flightdelay.store.indexes) before any
client queries them.

Authentication: FerretDB 1.x hands a client's PLAIN credentials to PostgreSQL and opens that
client's connections with them; a client without credentials gets the base URL's login, which
holds none, so PostgreSQL refuses it. Every platform client logs in as the ``ferretdb`` role
through ``Settings.mongo_uri``. (SCRAM needs FerretDB's experimental "new auth", which the
embeddable package does not offer.) On SQLite FerretDB checks no credentials at all.

FerretDB's aggregation support is narrow ($group only $sum/$count, no $out/$merge): the platform
computes aggregates in Python or Spark, never in the database.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from pymongo import MongoClient

from flightdelay.ops.errors import NotInstalledError, ServiceError
from flightdelay.ops.service import Service
from flightdelay.store import postgres
from flightdelay.store.indexes import POSTGRESQL, SQLITE, ensure_indexes


class FerretDB(Service):
    name = "ferretdb"
    description = "MongoDB wire protocol (FerretDB v1 on PostgreSQL or SQLite)"
    start_timeout = 60.0

    @property
    def depends_on(self) -> Sequence[str]:  # type: ignore[override]
        return ("postgres",) if self.backend == POSTGRESQL else ()

    @property
    def backend(self) -> str:
        backend = self.settings.mongo_backend
        if backend not in (POSTGRESQL, SQLITE):
            raise ServiceError(f"MONGO_BACKEND must be {POSTGRESQL} or {SQLITE}, not {backend!r}")
        return backend

    @property
    def binary(self):
        return self.settings.build_dir / "bin" / "ferretdb"

    @property
    def sqlite_dir(self):
        return self.home / "data"

    def ports(self) -> list[int]:
        return [self.settings.mongo_port]

    def check_installed(self) -> None:
        if not self.binary.exists():
            raise NotInstalledError(f"{self.binary} is missing: run `make install` (builds go/ferretdb)")

    def prepare(self) -> None:
        sqlite_files = sorted(self.sqlite_dir.glob("*.sqlite")) if self.sqlite_dir.exists() else []
        if self.backend == POSTGRESQL and sqlite_files:
            # data from before the PostgreSQL default: never hide it behind an empty store
            raise ServiceError(
                f"{self.sqlite_dir} holds FerretDB's SQLite data ({', '.join(f.name for f in sqlite_files)}), "
                "but the store is now PostgreSQL. Either keep SQLite: `MONGO_BACKEND=sqlite make up`; "
                f"or start on PostgreSQL (history is re-imported by `make up`, predictions stay on HDFS): "
                f"`mv {self.sqlite_dir} {self.sqlite_dir}.sqlite-era && make up`"
            )

    def environment(self) -> Mapping[str, str]:
        if self.backend == POSTGRESQL:
            # no login in the URL: anonymous clients would connect with it
            return {"FERRETDB_POSTGRESQL_URL": postgres.url_without_login(self.settings, postgres.FERRETDB)}
        return {}

    def command(self) -> list[str]:
        return [
            str(self.binary),
            f"-listen-addr={self.settings.bind_host}:{self.settings.mongo_port}",
            f"-handler={self.backend}",
            f"-data-dir={self.sqlite_dir}",
        ]

    def probe(self) -> str | None:
        with MongoClient(self.settings.mongo_uri, serverSelectionTimeoutMS=1000) as client:
            client.admin.command("ping")
        return None

    def after_healthy(self) -> None:
        with MongoClient(self.settings.mongo_uri, serverSelectionTimeoutMS=5000) as client:
            ensure_indexes(client[self.settings.mongo_database], self.settings, log=lambda line: None)
