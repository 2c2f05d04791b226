"""Every DAG file imports cleanly and follows the project's conventions."""

from __future__ import annotations

from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert dagbag.dags, "no DAG found in dags/"


def test_every_dag_has_tags_retries_docs_and_no_catchup(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert dag.doc_md, f"{dag_id} has no doc_md"
        assert dag.catchup is False, f"{dag_id} catches up"
        for task in dag.tasks:
            assert task.retries >= 1, f"{dag_id}.{task.task_id} has no retries"


def _asset_names(condition) -> set[str]:
    """The asset names of a schedule's condition (an Asset, or AssetAny/AssetAll of them)."""
    if hasattr(condition, "objects"):
        return set().union(*(_asset_names(o) for o in condition.objects))
    return {condition.name}


def test_assets_chain_import_training_and_streaming(dagbag):
    from airflow.sdk import AssetOrTimeSchedule

    from flightdelay.ops.airflow_assets import CURRENT_MODEL, FLIGHT_HISTORY, RETRAIN_REQUESTS

    training = dagbag.dags["flight_delay_training"]
    assert isinstance(training.timetable, AssetOrTimeSchedule)
    assert _asset_names(training.timetable.asset_condition) == {"flight_history", "retrain_requests"}
    streaming = dagbag.dags["flight_delay_streaming"]
    assert isinstance(streaming.timetable, AssetOrTimeSchedule)
    assert _asset_names(streaming.timetable.asset_condition) == {"current_model"}

    announce = dagbag.dags["flight_data_import"].get_task("announce_history")
    assert [a.name for a in announce.outlets] == [FLIGHT_HISTORY.name]
    promote = training.get_task("promote_model")
    assert [a.name for a in promote.outlets] == [CURRENT_MODEL.name]
    assert not training.get_task("reject_model").outlets  # a rejected version starts nothing
    watcher = RETRAIN_REQUESTS.watchers[0]
    kind, kwargs = watcher.trigger.serialize()
    assert kwargs["topics"] == ["flight-delay-events"]
    assert kwargs["apply_function"] == "flightdelay.ops.events.retrain_requested"
    assert kwargs["kafka_config_id"] == "kafka_events"


def test_the_deploy_dags_waits_are_sensors_that_hold_no_worker_slot(dagbag):
    """Issue #14 part 6: provider sensors, reschedule mode or deferred, never a sleep in a task."""
    from airflow.providers.apache.kafka.operators.produce import ProduceToTopicOperator
    from airflow.providers.apache.kafka.sensors.kafka import AwaitMessageSensor
    from airflow.providers.mongo.sensors.mongo import MongoSensor
    from airflow.sdk import BaseSensorOperator
    from flightdelay_airflow.nifi import NiFiOutputSensor

    dag = dagbag.dags["flight_delay_streaming"]
    send = dag.get_task("send_canary")
    assert isinstance(send, ProduceToTopicOperator)
    assert send.producer_function == "flightdelay.canary.canary_messages"
    assert send.kafka_config_id == "kafka_default"

    kafka = dag.get_task("check_kafka")
    assert isinstance(kafka, AwaitMessageSensor)
    assert kafka.kafka_config_id == "kafka_canary"  # its own group, positioned by prepare_canary
    assert kafka.apply_function == "flightdelay.canary.answer_to"
    assert kafka.poll_interval == 0  # no sleep after each record that is not the canary's answer

    assert isinstance(dag.get_task("check_mongo"), MongoSensor)
    assert isinstance(dag.get_task("check_nifi"), NiFiOutputSensor)
    assert dag.get_task("nifi_running").task_id in dag.get_task("check_nifi").upstream_task_ids
    for task_id in ("wait_for_spark_app", "check_mongo", "check_hdfs", "check_nifi", "check_model_version"):
        sensor = dag.get_task(task_id)
        assert isinstance(sensor, BaseSensorOperator), task_id
        assert sensor.mode == "reschedule", task_id
        assert sensor.poke_interval <= 10, task_id
        # Airflow's reschedule race (apache/airflow#71172) costs a quick retry, not the deploy
        assert sensor.retries >= 3 and sensor.retry_delay.total_seconds() <= 5, task_id
    # everything checked before the version (and its note), a skipped NiFi check included
    version = dag.get_task("check_model_version")
    assert {"check_kafka", "check_mongo", "check_hdfs", "check_nifi"} <= version.upstream_task_ids
    assert version.trigger_rule == "none_failed"


def test_the_kafka_canary_check_defers_to_the_triggerer(dagbag):
    """AwaitMessageSensor waits in the triggerer: its execute defers at once, with our function."""
    from airflow.providers.apache.kafka.triggers.await_message import AwaitMessageTrigger
    from airflow.sdk.exceptions import TaskDeferred

    sensor = dagbag.dags["flight_delay_streaming"].get_task("check_kafka")
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(context={})
    trigger = deferred.value.trigger
    assert isinstance(trigger, AwaitMessageTrigger)
    kind, kwargs = trigger.serialize()
    assert (kwargs["kafka_config_id"], kwargs["apply_function"]) == ("kafka_canary", "flightdelay.canary.answer_to")
    # a retry reads again from prepare_canary's offsets: an answer its failed try read is found
    assert kwargs["commit_offset"] is False
    assert sensor.retries >= 3 and sensor.retry_delay.total_seconds() <= 5
    assert deferred.value.timeout.total_seconds() == sensor.timeout


def test_monitoring_runs_daily_and_after_each_promotion_and_updates_its_asset(dagbag):
    from airflow.sdk import AssetOrTimeSchedule

    from flightdelay.ops.airflow_assets import MODEL_MONITORING

    monitoring = dagbag.dags["flight_delay_monitoring"]
    assert isinstance(monitoring.timetable, AssetOrTimeSchedule)
    assert _asset_names(monitoring.timetable.asset_condition) == {"current_model"}
    assert [a.name for a in monitoring.get_task("publish_report").outlets] == [MODEL_MONITORING.name]
    assert monitoring.get_task("monitor_model").task_type == "SparkSubmitOperator"
    # the retrain event goes only when the window drifted
    assert monitoring.get_task("request_retrain").upstream_task_ids == {"drift_detected"}


def test_store_retention_trims_mongodb_and_nifis_local_output(dagbag):
    retention = dagbag.dags["store_retention"]
    assert {t.task_id for t in retention.tasks} == {"delete_expired_predictions", "delete_old_nifi_output"}
