"""Airflow as the platform's clients see it, in either deployment: the generated admin login and
keys, the connections the DAGs name (AIRFLOW_CONN_* variables built from the settings), the REST
API client, and running a DAG to its end.

The embedded Airflow's processes and their environment are flightdelay/embedded/airflow.py; the
compose deployment exports the same connections through docker/airflow/airflow_env.py.
"""

from __future__ import annotations

import json
import secrets
import time
from base64 import urlsafe_b64encode
from datetime import datetime
from typing import Callable

import requests

from flightdelay import kafka_auth
from flightdelay.ops.errors import ServiceError
from flightdelay.secrets import generated_secrets
from flightdelay.settings import Settings
from flightdelay.waiting import WaitTimeout, wait_until

#: how long a DAG file added just now may take to be parsed (the dag-processor's refresh is 20 s)
DAG_PARSE_TIMEOUT_S = 180.0
#: how often a followed DAG run is polled
RUN_POLL_S = 3.0
#: how long the scheduler may take to start the run an asset update asks for
ASSET_RUN_GRACE_S = 45.0


def airflow_secrets(settings: Settings) -> dict[str, str]:
    """Generated once and reused: every Airflow component must share the same keys. A configured
    AIRFLOW_PASSWORD replaces the generated password."""
    return generated_secrets(
        settings.secrets_dir / "airflow.json",
        {
            "password": lambda: secrets.token_urlsafe(12),
            "jwt_secret": lambda: secrets.token_urlsafe(32),
            "api_secret_key": lambda: secrets.token_urlsafe(32),
            "fernet_key": lambda: urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        },
        configured={"password": settings.airflow_password},
    )


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
        # the retrain events' watcher: its own consumer group, from the topic's start the first
        # time, so an event sent before the triggerer first subscribed is not lost
        "kafka_events": {
            "conn_type": "kafka",
            "extra": kafka_auth.client_config(
                settings, **{"group.id": "airflow-events", "auto.offset.reset": "earliest"}
            ),
        },
        # the deploy DAG's canary check (AwaitMessageSensor on the response topic): its own group,
        # whose offsets the DAG commits at the topic's end just before it sends the canary, so the
        # sensor reads only the answers written since, wherever and whenever it subscribes (never
        # the whole topic); nothing else commits (a retried sensor reads again from there)
        "kafka_canary": {
            "conn_type": "kafka",
            "extra": kafka_auth.client_config(
                settings,
                **{"group.id": "airflow-canary", "auto.offset.reset": "earliest", "enable.auto.commit": False},
            ),
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


def health(settings: Settings) -> dict:
    """The api-server's health report: one entry per component (metadatabase, scheduler, ...)."""
    return requests.get(f"{settings.airflow_url}/api/v2/monitor/health", timeout=3).json()


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
        return self.session.request(method, f"{self.settings.airflow_url}/api/v2{path}", headers=headers, timeout=30, **kwargs)

    def get(self, path: str, **kwargs) -> dict:
        reply = self.request("GET", path, **kwargs)
        reply.raise_for_status()
        return reply.json()


def set_run_note(client: AirflowClient, dag_id: str, run_id: str, note: str) -> bool:
    """Show ``note`` (Markdown) on a DAG run in the UI; False (and nothing raised) when the API
    refuses: a note is for people, never a reason for a task to fail."""
    try:
        reply = client.request("PATCH", f"/dags/{dag_id}/dagRuns/{run_id}", json={"note": note})
    except (requests.RequestException, OSError, KeyError, ValueError) as exc:
        print(f"could not set the run's note: {type(exc).__name__}: {exc}")
        return False
    if reply.status_code != 200:
        print(f"could not set the run's note: HTTP {reply.status_code} {reply.text[:200]}")
        return False
    return True


def unpause(client: AirflowClient, dag_id: str, timeout: float = DAG_PARSE_TIMEOUT_S) -> None:
    """Unpause a DAG, waiting for a DAG file added just now to be parsed (HTTP 404 until then)."""

    def unpaused() -> str | None:
        reply = client.request("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
        if reply.status_code == 200:
            return None
        if reply.status_code != 404:
            raise ServiceError(f"cannot unpause {dag_id}: HTTP {reply.status_code} {reply.text[:300]}")
        return f"HTTP 404 {reply.text[:300]}"

    try:
        wait_until(unpaused, f"{dag_id} to be parsed", timeout=timeout, interval=RUN_POLL_S)
    except WaitTimeout as exc:
        raise ServiceError(f"cannot unpause {dag_id}: {exc}") from exc


def trigger_run(client: AirflowClient, dag_id: str, conf: dict | None = None) -> str:
    """Unpause the DAG and start a run now; returns its run id."""
    unpause(client, dag_id)
    reply = client.request("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})
    if reply.status_code != 200:
        raise ServiceError(f"cannot trigger {dag_id}: HTTP {reply.status_code} {reply.text[:300]}")
    return reply.json()["dag_run_id"]


def asset_triggered_run(client: AirflowClient, dag_id: str, since: datetime, timeout: float) -> str | None:
    """The run an asset event started since ``since`` (a run of an upstream DAG that just updated
    the asset), waiting up to ``timeout`` for the scheduler to create it; None if none came."""
    found: list[str] = []

    def created() -> str | None:
        runs = client.get(
            f"/dags/{dag_id}/dagRuns",
            params={"run_type": "asset_triggered", "run_after_gte": since.isoformat(), "order_by": "-run_after"},
        )["dag_runs"]
        if runs:
            found.append(runs[0]["dag_run_id"])
            return None
        return "no asset-triggered run yet"

    try:
        wait_until(created, f"an asset-triggered run of {dag_id}", timeout=timeout, interval=RUN_POLL_S)
    except WaitTimeout:
        return None
    return found[0]


def follow_run(
    client: AirflowClient, dag_id: str, run_id: str, timeout: float = 1800.0, log: Callable[[str], None] = print
) -> dict:
    """Follow a run to its end, printing each task's state as it changes. Returns the final run;
    raises ServiceError naming the failed tasks."""
    started = time.monotonic()
    seen: dict[str, str] = {}
    latest: dict = {}

    def finished() -> str | None:
        run = client.get(f"/dags/{dag_id}/dagRuns/{run_id}")
        tasks = client.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]
        latest.update(run=run, tasks=tasks)
        for ti in sorted(tasks, key=lambda t: t.get("start_date") or ""):
            state = ti.get("state") or "none"
            if seen.get(ti["task_id"]) != state:
                seen[ti["task_id"]] = state
                log(f"  [{time.monotonic() - started:6.0f}s] {ti['task_id']}: {state}")
        return None if run["state"] in ("success", "failed") else f"run {run_id} still {run['state']}"

    try:
        wait_until(finished, f"{dag_id} run {run_id} to finish", timeout=timeout, interval=RUN_POLL_S)
    except WaitTimeout as exc:
        raise ServiceError(str(exc)) from exc
    run, tasks = latest["run"], latest["tasks"]
    if run["state"] != "success":
        failed = [t["task_id"] for t in tasks if t.get("state") in ("failed", "upstream_failed")]
        raise ServiceError(
            f"{dag_id} run {run_id} failed (tasks {', '.join(failed) or '?'}); "
            f"see the task logs in the Airflow UI or var/airflow/logs/dag_id={dag_id}/"
        )
    log(f"{dag_id}: success in {time.monotonic() - started:.0f}s")
    return run


def task_succeeded(client: AirflowClient, run: dict, task_id: str) -> bool:
    """Whether a task of a finished run succeeded (a skipped one updated none of its assets)."""
    path = f"/dags/{run['dag_id']}/dagRuns/{run['dag_run_id']}/taskInstances/{task_id}"
    return client.get(path).get("state") == "success"


def run_dag(
    client: AirflowClient,
    dag_id: str,
    conf: dict | None = None,
    timeout: float = 1800.0,
    log: Callable[[str], None] = print,
    after_asset_update: datetime | None = None,
) -> dict:
    """Run a DAG to its end and return the final run (ServiceError names the failed tasks).

    With ``after_asset_update`` (when an upstream run that updates one of the DAG's assets ended),
    the run that asset event started is followed, if one comes within ASSET_RUN_GRACE_S, instead
    of starting a second one.
    """
    run_id = None
    if after_asset_update is not None:
        run_id = asset_triggered_run(client, dag_id, after_asset_update, timeout=ASSET_RUN_GRACE_S)
        if run_id is not None:
            log(f"{dag_id}: following run {run_id}, started by the asset update")
    if run_id is None:
        run_id = trigger_run(client, dag_id, conf)
        log(f"{dag_id}: run {run_id} triggered")
    return follow_run(client, dag_id, run_id, timeout, log)
