"""Docker healthchecks for the project's own containers: the same probes as the embedded platform's.

    python docker/platform/healthcheck.py spark-master | spark-worker-N | web

Exit 0 when healthy; otherwise print what is wrong and exit 1. The probes ask each server over its
own protocol: the Spark master's JSON status (ALIVE; the worker registered and ALIVE) and the Flask
app's /healthz (which answers 200 only when Kafka and MongoDB are reachable).
"""

from __future__ import annotations

import sys
from typing import Callable

from flightdelay.settings import Settings, get_settings


def probe(name: str, settings: Settings) -> Callable[[], str | None]:
    from flightdelay.ops import spark, web

    if name == "spark-master":
        return lambda: spark.master_problem(settings)
    if name.startswith("spark-worker-"):
        index = int(name.rsplit("-", 1)[1]) - 1
        return lambda: spark.worker_problem(settings, settings.spark_worker_ui_ports[index])
    if name == "web":
        return lambda: web.healthz_problem(settings)
    raise SystemExit(f"no healthcheck for {name!r}")


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        raise SystemExit(__doc__)
    check = probe(argv[1], get_settings())
    try:
        problem = check()
    except Exception as exc:  # the server is not up (yet): that is the answer
        problem = f"{type(exc).__name__}: {exc}"
    if problem:
        print(problem)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
