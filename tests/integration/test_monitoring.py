"""The monitoring DAG end to end: requests for real flights of the history go through the real
scorer, then flight_delay_monitoring reads their predictions from HDFS on the Spark cluster.

An unshifted batch (the flights as they were) shows no drift, and live accuracy on their known
outcomes; the same flights with departure delays 150 minutes later drift, which sends a
`retrain` event, which starts a training run (cheap params, so the gate rejects it). Then the
/ops page shows both windows in a real browser (screenshot in test-artifacts/)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

import pytest
from hdfs import InsecureClient
from pymongo import MongoClient

from flightdelay.contract import new_request
from flightdelay.model.registry import REJECTED, ModelRegistry
from flightdelay.monitoring.report import MonitoringStore, report_id
from flightdelay.ops.airflow import asset_triggered_run, follow_run, run_dag
from flightdelay.store.queries import flights_on
from tests.integration.test_streaming import produce, wait_for_documents
from tests.integration.test_web_browser import ARTIFACTS, DESKTOP

pytestmark = pytest.mark.slow

DAYS, PER_DAY = 12, 40  # flights spread over the training window's year, as its profile is
SHIFT_MINUTES = 150
CHEAP_RETRAIN = {"num_trees": 1, "max_depth": 1}


@pytest.fixture(scope="module")
def db(settings):
    with MongoClient(settings.mongo_uri) as client:
        yield client[settings.mongo_database]


@pytest.fixture(scope="module")
def history_flights(deployed_scorer, db, settings) -> list[dict]:
    """Real flights of the serving model's training window, a few from each of DAYS days."""
    window = ModelRegistry(db).current()["data_window"]
    first, last = date.fromisoformat(window["train_start"]), date.fromisoformat(window["train_end"])
    step = (last - first) / DAYS
    flights = []
    for i in range(DAYS):
        day = (first + step * i + timedelta(days=3)).isoformat()
        fields = {"Origin": 1, "Dest": 1, "Carrier": 1, "FlightNum": 1, "FlightDate": 1, "DepDelay": 1, "ArrDelay": 1}
        found = db[settings.flights_collection].find(flights_on(day), fields)
        found = [f for f in found if f.get("ArrDelay") is not None]
        flights += found[:: max(1, len(found) // PER_DAY)][:PER_DAY]
    assert len(flights) > DAYS * PER_DAY // 2, f"too few flights in the history window {window}"
    return flights


def score_and_monitor(airflow_client, db, settings, flights: list[dict], shift: float) -> dict:
    """Send a request per flight (DepDelay + shift), wait until every one is scored, and run the
    monitoring DAG over exactly that stretch of time; returns the run and its report."""
    since = datetime.now(timezone.utc)
    requests = [
        new_request({k: f[k] for k in ("Origin", "Dest", "Carrier", "FlightNum", "FlightDate")}
                    | {"DepDelay": f["DepDelay"] + shift})
        for f in flights
    ]  # fmt: skip
    produce(settings, requests)
    uuids = [r["UUID"] for r in requests]
    found = wait_for_documents(db, settings, uuids, timeout=300)
    assert len(found) == len(uuids), f"{len(uuids) - len(found)} requests were not scored"
    until = datetime.now(timezone.utc) + timedelta(seconds=1)
    conf = {"since": since.isoformat(), "until": until.isoformat(), "retrain_params": CHEAP_RETRAIN,
            "retrain_cooldown_hours": 0}  # fmt: skip
    run = run_dag(airflow_client, "flight_delay_monitoring", conf=conf, timeout=900)
    tasks = airflow_client.get(f"/dags/flight_delay_monitoring/dagRuns/{run['dag_run_id']}/taskInstances")
    run["task_states"] = {t["task_id"]: t["state"] for t in tasks["task_instances"]}
    report = MonitoringStore(db, settings.monitoring_collection).get(report_id(until))
    assert report is not None, "the monitoring run stored no report"
    assert report["volume"]["predictions"] == len(uuids)  # exactly this batch, read from HDFS
    return {"run": run, "report": report}


def test_an_unshifted_batch_shows_no_drift_and_its_live_accuracy(airflow_client, db, settings, history_flights):
    result = score_and_monitor(airflow_client, db, settings, history_flights, shift=0)
    report, run = result["report"], result["run"]
    assert report["drift"]["drifted"] is False, report["drift"]
    assert {f["feature"] for f in report["drift"]["features"]} == {"DepDelay", "Distance", "Carrier", "Origin", "Dest"}
    assert run["task_states"]["request_retrain"] == "skipped"
    assert "retrain_event" not in report
    # every request names a real flight of the history: its outcome is known
    assert sum(a["matched"] for a in report["live_accuracy"]) == len(history_flights)
    assert report["latency_ms"]["rows"] == len(history_flights) and report["latency_ms"]["p50"] > 0
    assert report["volume"]["requests"] >= len(history_flights) and report["volume"]["dead_letters"] >= 0
    assert (run.get("note") or "").startswith("**No drift**"), run.get("note")
    hdfs = InsecureClient(settings.webhdfs_url, user=settings.hdfs_user)
    assert hdfs.status(report["hdfs_path"], strict=False) is not None, f"no report file {report['hdfs_path']}"


def test_a_shifted_batch_drifts_and_retraining_follows(airflow_client, db, settings, history_flights):
    current = ModelRegistry(db).current()
    result = score_and_monitor(airflow_client, db, settings, history_flights, shift=SHIFT_MINUTES)
    report, run = result["report"], result["run"]
    assert report["drift"]["drifted"] is True, report["drift"]
    assert report["drift"]["features_over"][0] == "DepDelay"
    assert run["task_states"]["request_retrain"] == "success"
    event = report["retrain_event"]
    assert event["requested_by"] == "flight_delay_monitoring" and event["params"] == CHEAP_RETRAIN
    assert (run.get("note") or "").startswith("**Drift: retrain requested**"), run.get("note")

    # the event on flight-delay-events -> the AssetWatcher -> a training run with its params
    sent = datetime.fromisoformat(event["at"]) - timedelta(seconds=5)
    run_id = asset_triggered_run(airflow_client, "flight_delay_training", sent, timeout=180)
    assert run_id is not None, "no training run started on the monitoring's retrain event within 180 s"
    training = follow_run(airflow_client, "flight_delay_training", run_id, timeout=1500, log=print)
    assert (training.get("note") or "").startswith("**Rejected**"), training.get("note")
    newest = ModelRegistry(db).versions()[0]
    assert newest["params"]["num_trees"] == 1 and newest["status"] == REJECTED
    assert ModelRegistry(db).current()["version"] == current["version"]


def test_the_ops_page_charts_the_reports_in_a_browser(browser, served, db, settings):
    """After the two runs above: /ops in Chromium shows the verdict, the figures and six charts."""
    assert MonitoringStore(db, settings.monitoring_collection).recent(1), "needs the monitoring runs above"
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport=DESKTOP)
    try:
        page = context.new_page()
        reply = page.goto(served.url + "/ops")
        assert reply.status == 200
        assert page.locator("svg.chart").count() == 6
        assert page.locator("svg.chart polyline").count() > 0  # lines drawn, not only axes
        summary = page.inner_text("section.ops")
        assert "Latest window" in summary
        assert re.search(r"No drift\.|Drift: retrain requested\.|Drift, no retrain\.", summary), summary
        page.screenshot(path=str(ARTIFACTS / "ops_monitoring.png"), full_page=True)
    finally:
        context.close()
