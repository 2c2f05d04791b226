"""Airflow 3: api-server (UI + REST on 8080), scheduler (LocalExecutor), dag-processor, triggerer.

Config comes from AIRFLOW__* environment variables built from the settings; the metadata
database is the ``airflow`` database of the platform's PostgreSQL (its own role). The admin
password, JWT secret, API secret key and Fernet key are generated at first start and kept in
var/secrets (mode 0600); `flightdelay status --show-secrets` shows the password. Connections for
Spark, Kafka, Mongo and WebHDFS are AIRFLOW_CONN_* variables built from the settings, so DAGs name
connections, never hosts (flightdelay/ops/airflow.py, with the REST client and `run_dag`). No
component listens beyond the api-server (8080, on the bind host).
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from pathlib import Path

from flightdelay.ops.airflow import airflow_secrets, connections, health
from flightdelay.ops.errors import ServiceError
from flightdelay.ops.processes import run_checked
from flightdelay.ops.service import Service
from flightdelay.ops.spark import spark_environment
from flightdelay.secrets import write_private
from flightdelay.settings import PROJECT_ROOT, Settings
from flightdelay.store import postgres


def _airflow_version() -> str:
    from importlib.metadata import version

    return version("apache-airflow")


def airflow_bin() -> str:
    return str(Path(sys.executable).parent / "airflow")


def airflow_environment(settings: Settings) -> dict[str, str]:
    keys = airflow_secrets(settings)
    home = settings.var_dir / "airflow"
    passwords_file = settings.secrets_dir / "airflow-passwords.json"
    write_private(passwords_file, json.dumps({settings.airflow_user: keys["password"]}))
    api = settings.airflow_url
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__FERNET_KEY": keys["fernet_key"],
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{settings.airflow_user}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": postgres.sqlalchemy_url(settings),
        "AIRFLOW__API__HOST": settings.bind_host,
        "AIRFLOW__API__PORT": str(settings.airflow_port),
        "AIRFLOW__API__BASE_URL": api,
        "AIRFLOW__API__SECRET_KEY": keys["api_secret_key"],
        "AIRFLOW__API__EXPOSE_CONFIG": "False",
        "AIRFLOW__API_AUTH__JWT_SECRET": keys["jwt_secret"],
        # pick up new and changed DAG files within seconds, not minutes
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "20",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "20",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        # tasks spark-submit to the cluster: the venv's spark-submit first on PATH, same Java/Python
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        **spark_environment(settings),
        **connections(settings),
    }


class _AirflowComponent(Service):
    component = ""
    health_key = ""
    #: Airflow 3.3's log server binds every interface and has no host setting; on one machine
    #: the api-server reads every task's and trigger's log from the shared log folder, so the
    #: scheduler and the triggerer start none (nothing listens on 8793/8794)
    options: tuple[str, ...] = ()
    start_timeout = 180.0

    @property
    def home(self) -> Path:
        return self.settings.var_dir / "airflow"

    def ports(self) -> list[int]:
        return []

    def environment(self) -> dict[str, str]:
        return airflow_environment(self.settings)

    def command(self) -> list[str]:
        return [airflow_bin(), self.component, *self.options]

    def probe(self) -> str | None:
        entry = health(self.settings).get(self.health_key) or {}
        status = entry.get("status")
        if status != "healthy":
            return f"{self.health_key} status {status}"
        # Airflow calls a component healthy for a while after its last heartbeat, so a killed one
        # still looks healthy: only a heartbeat sent since our process started counts
        beat = next((v for k, v in entry.items() if k.startswith("latest_") and k.endswith("heartbeat")), None)
        started = self._start_marker()
        if beat and started and datetime.fromisoformat(beat).timestamp() < started:
            return f"{self.health_key}: no heartbeat since this process started"
        return None


class AirflowApiServer(_AirflowComponent):
    name = "airflow-api-server"
    description = "Airflow UI and REST API (8080)"
    component = "api-server"
    health_key = "metadatabase"
    depends_on = ("postgres",)

    def ports(self) -> list[int]:
        return [self.settings.airflow_port]

    def prepare(self) -> None:
        sqlite_era = self.home / "airflow.db"
        if sqlite_era.exists():
            # DAG run history of the SQLite days is not copied: say so, and how to go on
            raise ServiceError(
                f"{sqlite_era} is Airflow's metadata from before PostgreSQL; its run history is not "
                f"carried over. Move it aside and start again: `mv {sqlite_era} {sqlite_era}.sqlite-era && make up`"
            )
        if self._schema_is_current():
            return  # `airflow db migrate` would find nothing to do, after 20-40 s of imports
        run_checked([airflow_bin(), "db", "migrate"], "airflow db migrate", cwd=self.home, env=self.environment())
        revision = self._schema_revision()
        if revision:
            self._migrated_file.write_text(json.dumps({"airflow": _airflow_version(), "revision": revision}))

    @property
    def _migrated_file(self) -> Path:
        return self.home / "schema-migrated.json"

    def _schema_is_current(self) -> bool:
        """Whether this Airflow version migrated the metadata database to the revision it still has."""
        try:
            done = json.loads(self._migrated_file.read_text())
        except (FileNotFoundError, ValueError):
            return False
        return done.get("airflow") == _airflow_version() and done.get("revision") == self._schema_revision()

    def _schema_revision(self) -> str | None:
        """The metadata database's Alembic revision, or None (no schema yet, or no answer)."""
        try:
            with postgres.connect(self.settings, postgres.AIRFLOW) as connection, connection.cursor() as cursor:
                cursor.execute("SELECT version_num FROM alembic_version")
                row = cursor.fetchone()
        except Exception:  # no table yet, or the server does not answer: migrate decides
            return None
        return row[0] if row else None


class AirflowScheduler(_AirflowComponent):
    name = "airflow-scheduler"
    description = "Airflow scheduler with the LocalExecutor"
    component = "scheduler"
    health_key = "scheduler"
    options = ("--skip-serve-logs",)
    depends_on = ("airflow-api-server",)


class AirflowDagProcessor(_AirflowComponent):
    name = "airflow-dag-processor"
    description = "Airflow DAG processor (parses dags/)"
    component = "dag-processor"
    health_key = "dag_processor"
    depends_on = ("airflow-api-server",)


class AirflowTriggerer(_AirflowComponent):
    name = "airflow-triggerer"
    description = "Airflow triggerer (deferred tasks)"
    component = "triggerer"
    health_key = "triggerer"
    options = ("--skip-serve-logs",)
    depends_on = ("airflow-api-server",)


def airflow_services(settings: Settings) -> list[Service]:
    return [
        AirflowApiServer(settings),
        AirflowScheduler(settings),
        AirflowDagProcessor(settings),
        AirflowTriggerer(settings),
    ]
