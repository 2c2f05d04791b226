"""Kill each service under load and audit every sink: the chaos table.

    .venv/bin/python bench/chaos.py                  # every fault
    .venv/bin/python bench/chaos.py scorer kafka     # only these

Needs the platform up with a deployed scorer (`make up`). For each fault: ~50 requests/s to Kafka
and ~5/s through the web for 20 s, a SIGKILL after 5 s, no manual command afterwards; then how many
requests each sink lost or holds twice, the longest gap between answers, and the seconds until
the killed service was healthy again (brought back by the supervisor).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from flightdelay.chaos import FAULTS, run_fault  # noqa: E402
from flightdelay.settings import get_settings  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("faults", nargs="*", help=f"default: all of {', '.join(FAULTS)}")
    parser.add_argument("--load", type=float, default=20.0, help="seconds of load per fault")
    parser.add_argument("--settle", type=float, default=20.0, help="quiet seconds between faults")
    args = parser.parse_args()
    unknown = set(args.faults) - set(FAULTS)
    if unknown:
        parser.error(f"unknown fault(s) {', '.join(sorted(unknown))}; known: {', '.join(FAULTS)}")
    settings = get_settings()
    rows = []
    for fault in args.faults or list(FAULTS):
        report = run_fault(settings, fault, load_s=args.load, log=lambda line: print(f"  {line}", flush=True))
        rows.append(report)
        print(report.row(), flush=True)
        if report.refused:
            print(f"  refused while down: {report.refused}")
        time.sleep(args.settle)
    print("\nfault              sent   web  lost(mongo/hdfs/resp/nifi/web)  dup(hdfs/nifi)  gap s  healed s")
    for r in rows:
        lost = "/".join(str(r.lost[k]) for k in ("mongodb", "hdfs", "responses", "nifi", "web"))
        dup = "/".join(str(r.duplicated[k]) for k in ("hdfs", "nifi"))
        healed = f"{r.healed_s:.1f}" if r.healed_s is not None else "never"
        print(f"{r.fault:<17} {r.sent:>5} {r.web_accepted:>5}  {lost:<30}  {dup:<14}  {r.answer_gap_s:5.1f}  {healed:>8}")
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
