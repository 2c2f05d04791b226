"""
### Flight delay model training

Retrains the delay classifier on the Spark standalone cluster and promotes it only if it is
measurably at least as good as the current one. Runs every Monday 03:00 UTC, when
`flight_data_import` changed the history (asset `flight_history`), and on a `retrain` event
(asset `retrain_requests`: `flightdelay retrain`, or the monitoring DAG on drift).

1. `new_version` names the new immutable model version; `run_params` are the params, with a
   retrain event's `params` over them.
2. `train_model` spark-submits `spark_apps/train_model.py`: ONE PipelineModel (indexers that keep
   unseen values, assembler, RandomForest), trained on all but the latest weeks and scored on
   those held-out weeks; the model goes to HDFS `/models/flight_delay/<version>/`, its record (with
   the current model's score on the same held-out window) to MongoDB `model_registry`.
3. `promotion_gate` (its decision and the held-out figures beside the current model's become the
   run's note) branches: **promote_model** when the held-out weighted F1 is at least the
   current model's plus `margin`, else **reject_model** (the version stays, `rejected`, with the
   reason). The first model is always promoted. Promotion updates the asset `current_model`,
   which starts `flight_delay_streaming`.

Params: `num_trees`, `max_depth`, `min_rows_per_leaf` (the book's baseline: 20, 5 and 1), `holdout_weeks`,
`margin`.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, Param, dag, get_current_context, task

from flightdelay.ops.airflow_assets import CURRENT_MODEL, FLIGHT_HISTORY, RETRAIN_REQUESTS
from flightdelay.settings import PROJECT_ROOT

MONGO_CONN_ID = "mongo_default"


def _registry():
    from airflow.providers.mongo.hooks.mongo import MongoHook

    from flightdelay.model.registry import ModelRegistry
    from flightdelay.settings import get_settings

    return ModelRegistry(MongoHook(mongo_conn_id=MONGO_CONN_ID).get_conn()[get_settings().mongo_database])


@dag(
    dag_id="flight_delay_training",
    # Mondays 03:00 UTC, after the weekly import; or new history; or a retrain event
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 3 * * 1", timezone="UTC"),
        assets=(FLIGHT_HISTORY | RETRAIN_REQUESTS),
    ),
    catchup=False,  # no start_date: the first run waits for the next scheduled time
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=2)},
    params={
        "num_trees": Param(20, type="integer", minimum=1),
        "max_depth": Param(5, type="integer", minimum=1, maximum=30),
        "min_rows_per_leaf": Param(1, type="integer", minimum=1),
        "holdout_weeks": Param(4, type="integer", minimum=1),
        "margin": Param(0.0, type="number", description="required gain in held-out weighted F1"),
    },
    render_template_as_native_obj=False,
    tags=["flightdelay", "batch", "training"],
    doc_md=__doc__,
)
def flight_delay_training():
    @task(doc_md="A new, sortable version name for this run's model.")
    def new_version() -> str:
        from flightdelay.model.registry import new_version as make_version

        return make_version()

    @task(doc_md="The run's params, with the params of the retrain event that started it over them.")
    def run_params() -> dict:
        from flightdelay.ops.events import RETRAIN_PARAMS, training_params

        context = get_current_context()
        params = {name: context["params"][name] for name in RETRAIN_PARAMS}
        for event in context["triggering_asset_events"].get(RETRAIN_REQUESTS, []):
            payload = (event.extra or {}).get("payload") or {}
            print(f"retrain event: {payload.get('reason')!r} from {payload.get('requested_by')}")
            params.update(training_params(payload.get("params") or {}))
        print(f"params: {params}")
        return params

    version = new_version()
    chosen = run_params()

    train = SparkSubmitOperator(
        task_id="train_model",
        doc_md="Fit and score the PipelineModel on the Spark cluster; register it as a candidate.",
        conn_id="spark_default",
        application=str(PROJECT_ROOT / "spark_apps" / "train_model.py"),
        name="train_model",
        application_args=[
            "--version", "{{ ti.xcom_pull(task_ids='new_version') }}",
            "--num-trees", "{{ ti.xcom_pull(task_ids='run_params')['num_trees'] }}",
            "--max-depth", "{{ ti.xcom_pull(task_ids='run_params')['max_depth'] }}",
            "--min-rows-per-leaf", "{{ ti.xcom_pull(task_ids='run_params')['min_rows_per_leaf'] }}",
            "--holdout-weeks", "{{ ti.xcom_pull(task_ids='run_params')['holdout_weeks'] }}",
        ],  # fmt: skip
        conf={"spark.cores.max": "2", "spark.sql.shuffle.partitions": "8"},
        executor_memory="1g",
        driver_memory="1500m",
    )

    @task.branch(doc_md="Promote when the held-out score is at least the current model's.")
    def promotion_gate(version: str) -> str:
        from flightdelay_airflow.notes import note_this_run

        from flightdelay.model.registry import gate, gate_note

        record = _registry().get(version)
        if record is None:
            raise LookupError(f"train_model registered no version {version}")
        context = get_current_context()
        margin = context["ti"].xcom_pull(task_ids="run_params")["margin"]
        decision = gate(record, margin=float(margin))
        print(decision.reason)
        note_this_run(gate_note(record, decision))  # the decision and its figures, in the UI
        context["ti"].xcom_push(key="reason", value=decision.reason)
        return "promote_model" if decision.promote else "reject_model"

    def _gate_reason() -> str:
        return get_current_context()["ti"].xcom_pull(task_ids="promotion_gate", key="reason")

    @task(
        outlets=[CURRENT_MODEL],
        doc_md="Make the version current (asset current_model); the scorer picks it up between micro-batches.",
    )
    def promote_model(version: str) -> str:
        reason = _gate_reason()
        _registry().promote(version, reason)
        get_current_context()["outlet_events"][CURRENT_MODEL].extra = {"version": version, "reason": reason}
        return version

    @task(doc_md="Keep the version as `rejected` with the gate's reason.")
    def reject_model(version: str) -> str:
        _registry().reject(version, _gate_reason())
        return version

    gate_task = promotion_gate(version)
    [version, chosen] >> train >> gate_task
    gate_task >> [promote_model(version), reject_model(version)]


flight_delay_training()
