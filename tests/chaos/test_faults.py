"""Each service killed with SIGKILL under a steady load, with no manual command afterwards: the
supervisor brings it back, and every sink ends with every accepted request exactly once.

`make test` runs the short subset (the scorer, Kafka, the MongoDB server, the DataNode and a poison
message); `make test-chaos` runs every fault. The scorer rides out its dependencies' outages in
its own process: for those, its driver must be the same one afterwards. `bench/chaos.py` prints the same runs as a table.
"""

from __future__ import annotations

import pytest

from flightdelay.chaos import FAULTS, run_fault
from flightdelay.ops.scorer import ScoreStream

pytestmark = [pytest.mark.chaos, pytest.mark.slow]

IN_EVERY_RUN = ("scorer", "kafka", "mongodb", "hdfs-datanode", "poison")
# outages the scorer rides out in its own process (an HDFS outage restarts only its query)
SCORER_RIDES_OUT = ("kafka", "mongodb", "hdfs-datanode", "hdfs-namenode", "poison")


FAULT_PARAMS = [
    pytest.param(fault, marks=() if fault in IN_EVERY_RUN else (pytest.mark.chaos_full,), id=fault) for fault in FAULTS
]


@pytest.mark.parametrize("fault", FAULT_PARAMS)
def test_platform_heals_and_keeps_every_request(fault, deployed_scorer, settings):
    scorer_before = ScoreStream(settings).pid()
    report = run_fault(settings, fault)
    print(report.row())
    assert report.sent > 0, f"the load generator got nothing accepted: {report.refused}"
    assert report.healed_s is not None, f"{fault}: the killed service was not healthy again"
    assert not any(report.lost.values()), f"{fault}: lost per sink {report.lost}"
    assert not any(report.duplicated.values()), f"{fault}: duplicated per sink {report.duplicated}"
    if fault in SCORER_RIDES_OUT:
        assert ScoreStream(settings).pid() == scorer_before, f"{fault}: the scorer's driver was restarted"
