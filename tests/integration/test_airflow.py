from __future__ import annotations

import time

import requests

from flightdelay.embedded.airflow import AirflowClient, airflow_secrets


def test_health_reports_every_component(settings):
    health = requests.get(f"{settings.airflow_url}/api/v2/monitor/health", timeout=10).json()
    for component in ("metadatabase", "scheduler", "triggerer", "dag_processor"):
        assert health[component]["status"] == "healthy", health


def test_rest_api_needs_the_generated_credentials(settings):
    reply = requests.post(
        f"{settings.airflow_url}/auth/token",
        json={"username": settings.airflow_user, "password": "not-the-password"},
        timeout=10,
    )
    assert reply.status_code in (401, 403)
    assert requests.get(f"{settings.airflow_url}/api/v2/dags", timeout=10).status_code == 401
    assert airflow_secrets(settings)["password"] != "not-the-password"


def test_project_dags_are_listed_without_import_errors(settings):
    client = AirflowClient(settings)
    deadline = time.monotonic() + 120  # the dag-processor parses new files every 20 s
    dag_ids: set[str] = set()
    while time.monotonic() < deadline:
        dag_ids = {d["dag_id"] for d in client.get("/dags")["dags"]}
        if "platform_health" in dag_ids:
            break
        time.sleep(3)
    assert "platform_health" in dag_ids
    assert client.get("/importErrors")["import_errors"] == []


def test_platform_health_dag_runs_green(settings):
    client = AirflowClient(settings)
    reply = client.request("POST", "/dags/platform_health/dagRuns", json={"logical_date": None})
    assert reply.status_code == 200, reply.text
    run_id = reply.json()["dag_run_id"]
    deadline = time.monotonic() + 180
    state = None
    while time.monotonic() < deadline:
        state = client.get(f"/dags/platform_health/dagRuns/{run_id}")["state"]
        if state in ("success", "failed"):
            break
        time.sleep(2)
    tasks = client.get(f"/dags/platform_health/dagRuns/{run_id}/taskInstances")["task_instances"]
    assert state == "success", {t["task_id"]: t["state"] for t in tasks}
