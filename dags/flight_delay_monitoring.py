"""
### Flight delay model monitoring

Watches the serving model over a window of its predictions (by default the last 24 hours), on
the Spark cluster, and asks for a new model when the requests drift away from its training data.

1. `window` fixes the window: params `since`/`until` (ISO-8601, UTC) or the `window_hours`
   before this run.
2. `monitor_model` spark-submits `spark_apps/monitor_model.py`: per-feature drift (PSI of
   DepDelay, Distance, Carrier, Origin, Dest against the model's training rows), the
   predicted-class mix against the training labels, latency p50/p95/p99 (request on Kafka to
   prediction), volume and dead-letter rate, and live accuracy per model version where the
   requested flight is in the history. The report goes to MongoDB `model_monitoring` and HDFS
   `/monitoring/`.
3. `publish_report`: the report's summary becomes this run's note; the asset `model_monitoring`
   is updated with its figures; the Flask app's `/ops` page charts the recent reports.
4. `drift_detected` → `request_retrain`: when a feature's PSI passes `psi_threshold` (default
   `MONITOR_PSI_THRESHOLD`, 0.25; 0.1-0.25 reads as moderate) over at least 100 predictions, a
   `retrain` event goes to `flight-delay-events`, which starts `flight_delay_training` (with
   `retrain_params` over its defaults, when set). Not when a monitoring run asked within
   `retrain_cooldown_hours` (24): retraining learns from the history, not from the requests, so
   drift that outlives a retrain would otherwise ask again after every promotion.

Runs daily at 04:00 UTC and after each promotion (asset `current_model`).
"""

from __future__ import annotations

from datetime import timedelta

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, Param, dag, get_current_context, task

from flightdelay.ops.airflow_assets import CURRENT_MODEL, MODEL_MONITORING
from flightdelay.settings import PROJECT_ROOT

REPORTS_CHECKED = 30  # the recent reports looked at for an earlier retrain request


def _report():
    """This run's report and the store it is in."""
    from airflow.providers.mongo.hooks.mongo import MongoHook

    from flightdelay.monitoring.report import MonitoringStore
    from flightdelay.settings import get_settings

    settings = get_settings()
    key = get_current_context()["ti"].xcom_pull(task_ids="window")["report"]
    db = MongoHook(mongo_conn_id="mongo_default").get_conn()[settings.mongo_database]
    store = MonitoringStore(db, settings.monitoring_collection)
    report = store.get(key)
    if report is None:
        raise LookupError(f"monitor_model stored no report {key}")
    return report, store


@dag(
    dag_id="flight_delay_monitoring",
    schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable("0 4 * * *", timezone="UTC"), assets=CURRENT_MODEL),
    catchup=False,  # no start_date: the first run waits for the next scheduled time
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=2)},
    params={
        "window_hours": Param(24, type="integer", minimum=1, description="the window ends when the run starts"),
        "since": Param(None, type=["null", "string"], description="window start, ISO-8601 (overrides window_hours)"),
        "until": Param(None, type=["null", "string"], description="window end, ISO-8601 (default: now)"),
        "psi_threshold": Param(None, type=["null", "number"], description="default MONITOR_PSI_THRESHOLD"),
        "retrain_params": Param({}, type="object", description="training params a drift retrain uses"),
        "retrain_cooldown_hours": Param(
            24, type="number", minimum=0, description="no second drift retrain within this many hours"
        ),
    },
    tags=["flightdelay", "monitoring"],
    doc_md=__doc__,
)
def flight_delay_monitoring():
    @task(doc_md="The window to monitor and its report's key.")
    def window() -> dict:
        from datetime import datetime, timezone

        from flightdelay.monitoring.report import report_id
        from flightdelay.settings import get_settings

        params = get_current_context()["params"]

        def moment(text: str) -> datetime:
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return value if value.tzinfo else value.replace(tzinfo=timezone.utc)

        until = moment(params["until"]) if params.get("until") else datetime.now(timezone.utc)
        since = moment(params["since"]) if params.get("since") else until - timedelta(hours=params["window_hours"])
        if since >= until:
            raise ValueError(f"the window is empty: since {since.isoformat()} is not before until {until.isoformat()}")
        threshold = params.get("psi_threshold")
        chosen = {
            "since": since.isoformat(),
            "until": until.isoformat(),
            "report": report_id(until),
            "threshold": float(threshold if threshold is not None else get_settings().monitor_psi_threshold),
        }
        print(chosen)
        return chosen

    monitor = SparkSubmitOperator(
        task_id="monitor_model",
        doc_md="Drift, class mix, latency, volume and live accuracy of the window, on the Spark cluster.",
        conn_id="spark_default",
        application=str(PROJECT_ROOT / "spark_apps" / "monitor_model.py"),
        name="monitor_model",
        application_args=[
            "--since", "{{ ti.xcom_pull(task_ids='window')['since'] }}",
            "--until", "{{ ti.xcom_pull(task_ids='window')['until'] }}",
            "--threshold", "{{ ti.xcom_pull(task_ids='window')['threshold'] }}",
        ],  # fmt: skip
        # one core and small heaps: it shares the cluster with the scorer and training
        conf={"spark.cores.max": "1", "spark.sql.shuffle.partitions": "4"},
        executor_memory="768m",
        driver_memory="768m",
    )

    @task(outlets=[MODEL_MONITORING], doc_md="The report as this run's note and as the asset event's extra.")
    def publish_report() -> dict:
        from flightdelay_airflow.notes import note_this_run

        from flightdelay.monitoring.report import asset_extra, now_utc, retrain_decision, summary_markdown

        report, store = _report()
        hours = get_current_context()["params"]["retrain_cooldown_hours"]
        decision = retrain_decision(report, store.recent(REPORTS_CHECKED), hours, now_utc())
        summary = summary_markdown(report, decision)
        print(summary)
        note_this_run(summary)
        extra = asset_extra(report) | decision
        get_current_context()["outlet_events"][MODEL_MONITORING].extra = extra
        return extra

    @task.short_circuit(doc_md="Go on to request_retrain only on drift, and when no retrain was asked lately.")
    def drift_detected(extra: dict) -> bool:
        print(extra["why"])
        return bool(extra["retrain"])

    @task(doc_md="Send a `retrain` event (it starts flight_delay_training).")
    def request_retrain() -> dict:
        from flightdelay.ops.events import retrain_event, send_event
        from flightdelay.settings import get_settings

        report, store = _report()
        params = get_current_context()["params"].get("retrain_params") or {}
        reason = f"drift in {report['_id']}: {report['drift']['reason']}"
        event = retrain_event(reason, requested_by="flight_delay_monitoring", params=params)
        send_event(get_settings(), event)
        store.mark_retrain(report["_id"], event)
        print(f"sent {event}")
        return event

    chosen = window()
    published = publish_report()
    chosen >> monitor >> published
    drift_detected(published) >> request_retrain()


flight_delay_monitoring()
