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
