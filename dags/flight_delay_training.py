"""
### Flight delay model training

Retrains the delay classifier every week on the Spark standalone cluster and promotes it only if
it is measurably at least as good as the current one.

1. `new_version` names the new immutable model version.
2. `train_model` spark-submits `spark_apps/train_model.py`: ONE PipelineModel (indexers that keep
   unseen values, assembler, RandomForest), trained on all but the latest weeks and scored on
   those held-out weeks; the model goes to HDFS `/models/flight_delay/<version>/`, its record (with
   the current model's score on the same held-out window) to MongoDB `model_registry`.
3. `promotion_gate` branches: **promote_model** when the held-out weighted F1 is at least the
   current model's plus `margin`, else **reject_model** (the version stays, `rejected`, with the
   reason). The first model is always promoted.

Params: `num_trees`, `max_depth` (the book's baseline: 20 and 5), `holdout_weeks`, `margin`.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.sdk import Param, dag, get_current_context, task

from flightdelay.settings import PROJECT_ROOT

MONGO_CONN_ID = "mongo_default"


def _registry():
    from airflow.providers.mongo.hooks.mongo import MongoHook

    from flightdelay.model.registry import ModelRegistry
    from flightdelay.settings import get_settings

    return ModelRegistry(MongoHook(mongo_conn_id=MONGO_CONN_ID).get_conn()[get_settings().mongo_database])


@dag(
    dag_id="flight_delay_training",
    schedule="0 3 * * 1",  # Mondays 03:00 UTC, after the weekly import
    catchup=False,  # no start_date: the first run waits for the next scheduled time
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=2)},
    params={
        "num_trees": Param(20, type="integer", minimum=1),
        "max_depth": Param(5, type="integer", minimum=1, maximum=30),
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

    version = new_version()

    train = SparkSubmitOperator(
        task_id="train_model",
        doc_md="Fit and score the PipelineModel on the Spark cluster; register it as a candidate.",
        conn_id="spark_default",
        application=str(PROJECT_ROOT / "spark_apps" / "train_model.py"),
        name="train_model",
        application_args=[
            "--version", "{{ ti.xcom_pull(task_ids='new_version') }}",
            "--num-trees", "{{ params.num_trees }}",
            "--max-depth", "{{ params.max_depth }}",
            "--holdout-weeks", "{{ params.holdout_weeks }}",
        ],  # fmt: skip
        conf={"spark.cores.max": "2", "spark.sql.shuffle.partitions": "8"},
        executor_memory="1g",
        driver_memory="1500m",
    )

    @task.branch(doc_md="Promote when the held-out score is at least the current model's.")
    def promotion_gate(version: str) -> str:
        from flightdelay.model.registry import gate

        record = _registry().get(version)
        if record is None:
            raise LookupError(f"train_model registered no version {version}")
        context = get_current_context()
        decision = gate(record, margin=float(context["params"]["margin"]))
        print(decision.reason)
        context["ti"].xcom_push(key="reason", value=decision.reason)
        return "promote_model" if decision.promote else "reject_model"

    def _gate_reason() -> str:
        return get_current_context()["ti"].xcom_pull(task_ids="promotion_gate", key="reason")

    @task(doc_md="Make the version current; the streaming job picks it up between micro-batches.")
    def promote_model(version: str) -> str:
        _registry().promote(version, _gate_reason())
        return version

    @task(doc_md="Keep the version as `rejected` with the gate's reason.")
    def reject_model(version: str) -> str:
        _registry().reject(version, _gate_reason())
        return version

    gate_task = promotion_gate(version)
    version >> train >> gate_task
    gate_task >> [promote_model(version), reject_model(version)]


flight_delay_training()
