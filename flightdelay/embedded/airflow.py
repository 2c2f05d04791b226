"""Airflow 3: api-server (UI + REST on 8080), scheduler (LocalExecutor), dag-processor, triggerer.

Config comes from AIRFLOW__* environment variables built from the settings; the metadata
database is the ``airflow`` database of the platform's PostgreSQL (its own role). The admin
password, JWT secret, API secret key and Fernet key are generated at first start and kept in
var/secrets (mode 0600); `flightdelay status --show-secrets` shows the password. Connections for
Spark, Kafka, Mongo and WebHDFS are AIRFLOW_CONN_* variables built from the settings, so DAGs name
connections, never hosts; `mongo_default` carries the platform's MongoDB login. No component
listens beyond the api-server (8080, on the bind host).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from base64 import urlsafe_b64encode
from datetime import datetime
from pathlib import Path

import requests

from flightdelay import kafka_auth
from flightdelay.embedded.base import Service, ServiceError, write_private
from flightdelay.embedded.spark import spark_environment
from flightdelay.settings import PROJECT_ROOT, Settings
from flightdelay.store import postgres


def _airflow_version() -> str:
    from importlib.metadata import version

    return version("apache-airflow")


def airflow_bin() -> str:
    return str(Path(sys.executable).parent / "airflow")


def airflow_secrets(settings: Settings) -> dict[str, str]:
    """Generated once and reused: every Airflow component must share the same keys."""
    path = settings.secrets_dir / "airflow.json"
    if path.exists():
        stored = json.loads(path.read_text())
    else:
        stored = {
            "password": settings.airflow_password or secrets.token_urlsafe(12),
            "jwt_secret": secrets.token_urlsafe(32),
            "api_secret_key": secrets.token_urlsafe(32),
            "fernet_key": urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        }
        write_private(path, json.dumps(stored, indent=2))
    if settings.airflow_password and stored["password"] != settings.airflow_password:
        stored["password"] = settings.airflow_password
        write_private(path, json.dumps(stored, indent=2))
    return stored


def mongo_login(settings: Settings) -> dict:
    """The MongoDB login of the settings, as a connection's fields (MongoHook puts the database in
    the URI's path, so the login's source is named)."""
    if settings.mongo_login is None:
        return {}
    user, password = settings.mongo_login
    extra = {"authMechanism": settings.mongo_auth_mechanism, "authSource": settings.mongo_auth_source}
    return {"login": user, "password": password, "extra": extra}


def connections(settings: Settings) -> dict[str, str]:
    """AIRFLOW_CONN_* variables (JSON form) for the connections the DAGs use."""
    conns = {
        "spark_default": {
            "conn_type": "spark",
            "host": f"spark://{settings.spark_master_host}",
            "port": settings.spark_master_port,
            "extra": {"deploy-mode": "client", "master_ui_port": settings.spark_master_ui_port},
        },
        "kafka_default": {
            "conn_type": "kafka",
            # the provider hands `extra` to confluent-kafka: the SASL login goes with it
            "extra": kafka_auth.client_config(settings, **{"group.id": "airflow"}),
        },
        "mongo_default": {
            "conn_type": "mongo",
            "host": settings.mongo_host,
            "port": settings.mongo_port,
            "schema": settings.mongo_database,
            **mongo_login(settings),
        },
        "webhdfs_default": {
            "conn_type": "webhdfs",
            "host": settings.hdfs_host,
            "port": settings.hdfs_http_port,
            "login": settings.hdfs_user,
        },
    }
    return {f"AIRFLOW_CONN_{name.upper()}": json.dumps(value) for name, value in conns.items()}


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


def health(settings: Settings) -> dict:
    return requests.get(f"{settings.airflow_url}/api/v2/monitor/health", timeout=3).json()


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
        result = subprocess.run(
            [airflow_bin(), "db", "migrate"],
            env={**os.environ, **self.environment()},
            cwd=self.home,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise ServiceError(f"airflow db migrate failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
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


class AirflowClient:
    """The REST API with a JWT from the generated credentials (used by the CLI and the tests)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.session = requests.Session()
        self._token: str | None = None

    def token(self) -> str:
        if self._token is None:
            password = airflow_secrets(self.settings)["password"]
            reply = self.session.post(
                f"{self.settings.airflow_url}/auth/token",
                json={"username": self.settings.airflow_user, "password": password},
                timeout=10,
            )
            reply.raise_for_status()
            self._token = reply.json()["access_token"]
        return self._token

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token()}"}
        reply = self.session.request(method, f"{self.settings.airflow_url}/api/v2{path}", headers=headers, timeout=30, **kwargs)
        return reply

    def get(self, path: str, **kwargs) -> dict:
        reply = self.request("GET", path, **kwargs)
        reply.raise_for_status()
        return reply.json()


def run_dag(
    client: AirflowClient,
    dag_id: str,
    conf: dict | None = None,
    timeout: float = 1800.0,
    log=print,
) -> dict:
    """Trigger a DAG run and follow it to the end, printing each task's state as it changes.

    Returns the final run; raises ServiceError naming the failed tasks.
    """
    import time

    deadline = time.monotonic() + 180
    while True:  # a DAG file added just now is parsed within the dag-processor's refresh interval
        reply = client.request("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
        if reply.status_code == 200:
            break
        if reply.status_code != 404 or time.monotonic() > deadline:
            raise ServiceError(f"cannot unpause {dag_id}: HTTP {reply.status_code} {reply.text[:300]}")
        time.sleep(3)
    reply = client.request("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})
    if reply.status_code != 200:
        raise ServiceError(f"cannot trigger {dag_id}: HTTP {reply.status_code} {reply.text[:300]}")
    run_id = reply.json()["dag_run_id"]
    log(f"{dag_id}: run {run_id} triggered")
    started = time.monotonic()
    seen: dict[str, str] = {}
    while True:
        run = client.get(f"/dags/{dag_id}/dagRuns/{run_id}")
        tasks = client.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]
        for ti in sorted(tasks, key=lambda t: t.get("start_date") or ""):
            state = ti.get("state") or "none"
            if seen.get(ti["task_id"]) != state:
                seen[ti["task_id"]] = state
                log(f"  [{time.monotonic() - started:6.0f}s] {ti['task_id']}: {state}")
        if run["state"] in ("success", "failed"):
            break
        if time.monotonic() - started > timeout:
            raise ServiceError(f"{dag_id} run {run_id} still {run['state']} after {timeout:.0f}s")
        time.sleep(3)
    if run["state"] != "success":
        failed = [t["task_id"] for t in tasks if t.get("state") in ("failed", "upstream_failed")]
        raise ServiceError(
            f"{dag_id} run {run_id} failed (tasks {', '.join(failed) or '?'}); "
            f"see the task logs in the Airflow UI or var/airflow/logs/dag_id={dag_id}/"
        )
    log(f"{dag_id}: success in {time.monotonic() - started:.0f}s")
    return run
