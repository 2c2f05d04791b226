from __future__ import annotations

import contextlib

import requests

from flightdelay.ops.airflow import AirflowClient, airflow_secrets
from flightdelay.waiting import WaitTimeout, wait_until


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
    dag_ids: set[str] = set()

    def listed() -> str | None:
        nonlocal dag_ids
        dag_ids = {d["dag_id"] for d in client.get("/dags")["dags"]}
        return None if "platform_health" in dag_ids else f"listed: {sorted(dag_ids)}"

    with contextlib.suppress(WaitTimeout):  # the dag-processor parses new files every 20 s
        wait_until(listed, "platform_health to be listed", timeout=120, interval=3)
    assert "platform_health" in dag_ids
    assert client.get("/importErrors")["import_errors"] == []


def test_platform_health_dag_runs_green(settings):
    client = AirflowClient(settings)
    reply = client.request("POST", "/dags/platform_health/dagRuns", json={"logical_date": None})
    assert reply.status_code == 200, reply.text
    run_id = reply.json()["dag_run_id"]
    state = None

    def finished() -> str | None:
        nonlocal state
        state = client.get(f"/dags/platform_health/dagRuns/{run_id}")["state"]
        return None if state in ("success", "failed") else f"run {run_id} is {state}"

    with contextlib.suppress(WaitTimeout):  # the assert below names the tasks' states
        wait_until(finished, f"platform_health run {run_id} to finish", timeout=180, interval=2)
    tasks = client.get(f"/dags/platform_health/dagRuns/{run_id}/taskInstances")["task_instances"]
    assert state == "success", {t["task_id"]: t["state"] for t in tasks}


def test_the_menu_links_to_the_platforms_other_uis(settings):
    from flightdelay.ops.ui_links import platform_links

    plugins = {p["name"]: p for p in AirflowClient(settings).get("/plugins")["plugins"]}
    views = plugins["flightdelay_links"]["external_views"]
    assert [v["name"] for v in views] == [link.name for link in platform_links(settings)]
    assert all(v["destination"] == "nav" and v["category"] == "Flight delay" for v in views)
    # the links of services `up` always runs answer (NiFi's is TLS with its own CA; the scorer's
    # metrics need a deployed scorer, which test_metrics checks)
    always_up = {"Prediction page", "Serving model", "Spark master", "HDFS NameNode", "Web metrics"}
    for view in views:
        if view["name"] in always_up:
            assert requests.get(view["href"], timeout=10).status_code < 500, view
