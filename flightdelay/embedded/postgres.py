"""PostgreSQL 15 from Debian: FerretDB's storage and Airflow's metadata database.

The cluster lives under var/postgres/cluster (data/ and the Unix socket in socket/), owned by the
``postgres`` OS user, since PostgreSQL refuses to run as root: as root, initdb and the server run
through ``setpriv`` as that user. When the checkout sits where that user cannot enter (a root home
with mode 0700, as a CI clone may), the cluster lives in /var/lib/flightdelay/ instead and
var/postgres/cluster links to it. Password authentication (scram-sha-256) on 127.0.0.1 and on the
socket; passwords are generated into var/secrets/postgres.json (0600); roles and databases come
from ``flightdelay.store.postgres.provision``.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import signal
import subprocess
from pathlib import Path

from flightdelay.ops.errors import NotInstalledError, ServiceError
from flightdelay.ops.processes import run_checked
from flightdelay.ops.service import Service
from flightdelay.secrets import write_private
from flightdelay.store import postgres

OS_USER = "postgres"
OUTSIDE_ROOT = Path("/var/lib/flightdelay")


def _as_root() -> bool:
    return os.geteuid() == 0


class PostgreSQL(Service):
    name = "postgres"
    description = "PostgreSQL 15 (FerretDB's storage, Airflow's metadata)"
    start_timeout = 60.0
    stop_signal = signal.SIGINT  # "fast" shutdown: SIGTERM would wait for every client to leave

    def ports(self) -> list[int]:
        return [self.settings.postgres_port]

    def binary(self, name: str) -> Path:
        return self.settings.postgres_bin_dir / name

    def check_installed(self) -> None:
        if not self.binary("postgres").exists():
            raise NotInstalledError(
                f"{self.binary('postgres')} is missing: run `make install` (Debian's postgresql-15)"
            )

    # --- where the cluster lives ------------------------------------------------------------------
    @property
    def cluster_link(self) -> Path:
        return self.home / "cluster"

    @property
    def cluster(self) -> Path:
        """The real folder: its owner may not be able to pass through var/ to follow the link."""
        return self.cluster_link.resolve()

    @property
    def data_dir(self) -> Path:
        return self.cluster / "data"

    @property
    def socket_dir(self) -> Path:
        return self.cluster / "socket"

    def _run_as_owner(self) -> list[str]:
        """The prefix that runs a command as the cluster's owner (nothing unless we are root)."""
        if not _as_root():
            return []
        return ["setpriv", f"--reuid={OS_USER}", f"--regid={OS_USER}", "--init-groups", "--"]

    def _owner_can_enter(self, folder: Path) -> bool:
        result = subprocess.run([*self._run_as_owner(), "test", "-x", str(folder)], capture_output=True)
        return result.returncode == 0

    def _place_cluster(self) -> None:
        """Create var/postgres/cluster, as a folder or as a link to one the owner can reach."""
        if self.cluster_link.exists() or not _as_root():
            self.cluster_link.mkdir(parents=True, exist_ok=True)
            return
        self.home.mkdir(parents=True, exist_ok=True)
        if self._owner_can_enter(self.home):
            self.cluster_link.mkdir()
            target = self.cluster_link
        else:
            tag = hashlib.sha1(str(self.home.resolve()).encode()).hexdigest()[:12]
            target = OUTSIDE_ROOT / f"postgres-{tag}"
            if target.exists():  # left by a var/ at this path that was removed without `make clean`
                shutil.rmtree(target)
            target.mkdir(parents=True)
            os.chmod(OUTSIDE_ROOT, 0o755)
            self.cluster_link.symlink_to(target, target_is_directory=True)
        self._give_to_owner(target)
        os.chmod(target, 0o700)

    @staticmethod
    def _give_to_owner(path: Path) -> None:
        if _as_root():
            owner = pwd.getpwnam(OS_USER)
            os.chown(path, owner.pw_uid, owner.pw_gid)

    def prepare(self) -> None:
        self._place_cluster()
        self.socket_dir.mkdir(mode=0o700, exist_ok=True)
        self._give_to_owner(self.socket_dir)
        if (self.data_dir / "PG_VERSION").exists():
            return
        # initdb reads the superuser's password from a file the owner can read; removed after
        password_file = self.cluster / ".initdb-password"
        write_private(password_file, postgres.passwords(self.settings)[postgres.SUPERUSER])
        self._give_to_owner(password_file)
        try:
            run_checked(
                [
                    *self._run_as_owner(),
                    str(self.binary("initdb")),
                    f"--pgdata={self.data_dir}",
                    f"--username={postgres.SUPERUSER}",
                    f"--pwfile={password_file}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C",
                ],
                "initdb",
                cwd=self.cluster,  # a folder its owner may enter
            )
        except ServiceError:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            raise
        finally:
            password_file.unlink(missing_ok=True)

    def command(self) -> list[str]:
        settings = {
            "listen_addresses": self.settings.bind_host,
            "port": self.settings.postgres_port,
            "unix_socket_directories": self.socket_dir,
            "shared_buffers": self.settings.postgres_shared_buffers,
            # FerretDB's pool, four Airflow components and their task processes
            "max_connections": 200,
            # a crash may lose the last ~0.6 s of acknowledged commits (imports are idempotent,
            # Airflow's states are re-read); the scorer's prediction inserts, whose loss nothing
            # would repair once their batch is committed, ask for a synchronous commit
            # (store/direct_writes.py)
            "synchronous_commit": "off",
            # no replica reads this WAL: write the least of it, and checkpoint rarely, since the
            # first change of a page after each checkpoint writes the whole page (random GIN and
            # btree inserts of a growing predictions table touch a new page almost every time)
            "wal_level": "minimal",
            "max_wal_senders": 0,
            "max_wal_size": "4GB",
            "checkpoint_timeout": "15min",
            "log_min_messages": "warning",
            "log_checkpoints": "off",
        }
        options = [arg for key, value in settings.items() for arg in ("-c", f"{key}={value}")]
        return [*self._run_as_owner(), str(self.binary("postgres")), "-D", str(self.data_dir), *options]

    def probe(self) -> str | None:
        with postgres.connect(self.settings, postgres.SUPERUSER, timeout=2) as connection:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
        return None

    def after_healthy(self) -> None:
        postgres.provision(self.settings)
