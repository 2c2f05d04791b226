from __future__ import annotations

import contextlib
import os
import subprocess
import sys

import pytest

from flightdelay.embedded import platform
from flightdelay.ops.spark import master_state, spark_environment
from flightdelay.waiting import WaitTimeout, wait_until

WHERE_TASKS_RUN = r"""
import os, sys
from pyspark.sql import SparkSession
spark = (SparkSession.builder.master(sys.argv[1]).appName("both-workers")
         .config("spark.cores.max", "2").config("spark.executor.cores", "1")
         .config("spark.executor.memory", "512m").getOrCreate())
sc = spark.sparkContext
# wait until an executor registered on each worker, then run enough tasks to reach both
import time
deadline = time.time() + 60
while sc._jsc.sc().getExecutorMemoryStatus().size() < 3 and time.time() < deadline:
    time.sleep(0.5)
dirs = sc.parallelize(range(40), 8).map(lambda _: os.getcwd()).distinct().collect()
for d in dirs:
    print("EXECUTOR_DIR", d)
spark.stop()
"""


def test_master_has_two_alive_workers_with_one_core_each(settings):
    state = master_state(settings)
    alive = [w for w in state["workers"] if w["state"] == "ALIVE"]
    assert len(alive) == 2
    assert all(w["cores"] == 1 for w in alive)


@pytest.fixture
def both_workers_free(settings):
    """This check needs a core on each worker. The streaming scorer holds one while it runs
    (deployed by `make up` or the hourly DAG): it is stopped for the check and started again."""
    scorer = platform.service("score-stream")
    was_running = scorer.pid() is not None
    if was_running:
        scorer.stop(log=lambda line: None)

    def cores_free() -> str | None:
        busy = any(w["coresused"] for w in master_state(settings)["workers"])
        return "a worker's core is still in use" if busy else None

    with contextlib.suppress(WaitTimeout):  # still busy: the test then shows where its tasks ran
        wait_until(cores_free, "both Spark workers to be free", timeout=120, interval=2)
    yield
    if was_running:
        scorer.start(log=lambda line: None)


def test_job_runs_on_executors_of_both_workers(settings, tmp_path, both_workers_free):
    script = tmp_path / "where.py"
    script.write_text(WHERE_TASKS_RUN)
    result = subprocess.run(
        [sys.executable, str(script), settings.spark_master_url],
        env={**os.environ, **spark_environment(settings)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"{result.stderr[-3000:]}\nmaster: {master_state(settings)}"
    dirs = [line.split(" ", 1)[1] for line in result.stdout.splitlines() if line.startswith("EXECUTOR_DIR")]
    workers = {d.split("/spark/")[1].split("/")[0] for d in dirs}
    assert workers == {"spark-worker-1", "spark-worker-2"}, dirs
