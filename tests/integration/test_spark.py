from __future__ import annotations

from flightdelay.ops.spark import master_state


def test_master_has_two_alive_workers_with_one_core_each(settings):
    state = master_state(settings)
    alive = [w for w in state["workers"] if w["state"] == "ALIVE"]
    assert len(alive) == 2
    assert all(w["cores"] == 1 for w in alive)


def test_job_runs_on_executors_of_both_workers(cluster_job):
    result = cluster_job["result"]
    assert result.returncode == 0, f"{result.stderr[-3000:]}\nmaster: {cluster_job['master']}"
    dirs = [line.split(" ", 1)[1] for line in result.stdout.splitlines() if line.startswith("EXECUTOR_DIR")]
    workers = {d.split("/spark/")[1].split("/")[0] for d in dirs}
    assert workers == {"spark-worker-1", "spark-worker-2"}, dirs
