"""Scoring in the executors' tasks (batches over SCORER_DRIVER_MAX_RECORDS): the pure parts, no Spark."""

from __future__ import annotations

import pickle
from dataclasses import replace

import pytest

from flightdelay.model.compiled import CompiledForest, Indexer, tree_from_nodes
from flightdelay.model.scope import ModelScope
from flightdelay.ops.scorer import ScoreStream
from flightdelay.scoring.on_executors import (
    PHASES,
    SUMMARY_SCHEMA,
    Shipments,
    ShippedModel,
    batch_file_name,
    summary_arrow_schema,
)
from flightdelay.scoring.serving import checked_compiled_model
from flightdelay.settings import Settings

FOREST = CompiledForest(
    indexers=(Indexer("Carrier", {"AA": 0, "B6": 1}),),
    feature_columns=("DepDelay", "Carrier_index"),
    trees=(tree_from_nodes([{"feature": 0, "threshold": 10.0, "left": 1, "right": 2},
                            {"counts": [8, 2, 0, 0]}, {"counts": [0, 0, 1, 3]}], 4),),  # fmt: skip
    num_classes=4,
)


class Broadcasts:
    """What Shipments asks of a SparkContext: broadcast, and unpersist on what it returns."""

    def __init__(self):
        self.made: list[Shipped] = []

    def broadcast(self, value):
        self.made.append(Shipped(value))
        return self.made[-1]


class Shipped:
    def __init__(self, value):
        self.value, self.unpersisted = value, False

    def unpersist(self, blocking=False):
        self.unpersisted = True


def test_a_model_is_shipped_once_per_version_and_the_old_one_dropped():
    context = Broadcasts()
    shipments = Shipments(context)
    v1, v2 = checked_compiled_model("v1", FOREST), checked_compiled_model("v2", FOREST)
    first = shipments.model(v1)
    assert shipments.model(v1) is first and len(context.made) == 1
    second = shipments.model(v2)
    assert second is not first and first.unpersisted and not second.unpersisted
    assert second.value.version == "v2"


def test_distances_are_shipped_again_only_after_a_new_read():
    context = Broadcasts()
    shipments = Shipments(context)
    table = {("JFK", "LAX"): 2475.0}
    first = shipments.distances(table)
    assert shipments.distances(table) is first  # the same read: the same dict
    again = shipments.distances(dict(table))  # RouteDistances makes a new dict on each read
    assert again is not first and first.unpersisted


def test_the_shipped_model_pickles_and_scores_as_the_driver_would():
    scope = ModelScope(seen={"Carrier": frozenset({"AA"})}, accuracy=0.5)
    shipped = pickle.loads(pickle.dumps(ShippedModel("v1", FOREST, scope)))
    serving = shipped.serving()
    rows = [{"DepDelay": 3.0, "Carrier": "AA"}, {"DepDelay": 30.0, "Carrier": "ZZ"}]
    assert serving.predict(rows) == FOREST.predict(rows)
    assert (serving.version, serving.engine, serving.scope) == ("v1", "numpy", scope)


def test_task_files_sort_by_batch_beside_the_drivers_own():
    names = [batch_file_name(10, 1), "batch-000000000009.jsonl", batch_file_name(10, 0), batch_file_name(2, 3)]
    assert sorted(names) == [batch_file_name(2, 3), "batch-000000000009.jsonl", batch_file_name(10, 0),
                             batch_file_name(10, 1)]  # fmt: skip


def test_the_summary_schemas_name_the_same_fields():
    spark_names = [field.split()[0] for field in SUMMARY_SCHEMA.split(",")]
    assert summary_arrow_schema().names == spark_names
    assert set(PHASES) < set(spark_names)


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    monkeypatch.setenv("FLIGHTDELAY_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("SCORER_DRIVER_MAX_RECORDS", raising=False)
    return Settings()


def test_a_supervisor_restart_keeps_the_small_batch_limit_of_the_last_start(settings):
    assert settings.scorer_driver_max_records == 20_000  # the default
    started = ScoreStream(replace(settings, scorer_driver_max_records=0))
    started.home.mkdir(parents=True)
    started.prepare()  # a person's (or a benchmark's) start: every batch on the executors
    command = started.command()
    assert command[command.index("--driver-max-records") + 1] == "0"

    supervisor = ScoreStream(settings)  # its own settings say 20,000
    supervisor._recovering = True  # as inside recover()
    assert supervisor.driver_max_records() == 0
    supervisor.driver_max_records_file.write_text("garbled")
    assert supervisor.driver_max_records() == 20_000  # a file it cannot read: its settings decide
    supervisor._recovering = False  # a person's start decides afresh
    supervisor.driver_max_records_file.write_text("0")
    assert supervisor.driver_max_records() == 20_000


def test_a_batchs_metrics_phases_are_the_slowest_tasks_and_the_job_around_it():
    from flightdelay.scoring.on_executors import PHASES, job_phases

    slowest = {"read": 0.05, "parse": 0.01, "score": 0.02, "kafka": 0.03, "stores": 0.09, "total": 0.2}
    phases = job_phases(0.5, slowest)
    assert [name for name, _ in phases] == [*PHASES, "job"]
    assert sum(seconds for _, seconds in phases) == pytest.approx(0.5)
    assert dict(phases)["job"] == pytest.approx(0.3)
    assert dict(job_phases(0.1, slowest))["job"] == 0.0  # a clock's rounding never makes it negative
