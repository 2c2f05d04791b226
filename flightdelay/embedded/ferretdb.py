"""MongoDB wire protocol: FerretDB v1 on its SQLite backend, built by `make ferretdb` from go/ferretdb.

FerretDB's aggregation support is narrow ($group only $sum/$count, no $out/$merge): the platform
computes aggregates in Python or Spark, never in the database.
"""

from __future__ import annotations

from pymongo import MongoClient

from flightdelay.embedded.base import NotInstalledError, Service


class FerretDB(Service):
    name = "ferretdb"
    description = "MongoDB wire protocol (FerretDB v1, SQLite backend)"
    start_timeout = 30.0

    @property
    def binary(self):
        return self.settings.build_dir / "bin" / "ferretdb"

    def ports(self) -> list[int]:
        return [self.settings.mongo_port]

    def check_installed(self) -> None:
        if not self.binary.exists():
            raise NotInstalledError(f"{self.binary} is missing: run `make install` (builds go/ferretdb)")

    def command(self) -> list[str]:
        return [
            str(self.binary),
            f"-listen-addr={self.settings.bind_host}:{self.settings.mongo_port}",
            f"-data-dir={self.home / 'data'}",
        ]

    def probe(self) -> str | None:
        with MongoClient(self.settings.mongo_uri, serverSelectionTimeoutMS=1000) as client:
            client.admin.command("ping")
        return None
