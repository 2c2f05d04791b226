"""Docker healthchecks for the project's own containers: the embedded platform's probe of each one.

    python docker/platform/healthcheck.py spark-master | spark-worker-N | web

Exit 0 when healthy; otherwise print what is wrong and exit 1. The probes ask each server over its
own protocol: the Spark master's JSON status (ALIVE; the worker registered and ALIVE) and the Flask
app's /healthz (which answers 200 only when Kafka and MongoDB are reachable).
"""

from __future__ import annotations

import sys

from flightdelay.embedded.base import Service
from flightdelay.settings import Settings, get_settings


def service(name: str, settings: Settings) -> Service:
    if name == "spark-master":
        from flightdelay.embedded.spark import SparkMaster

        return SparkMaster(settings)
    if name.startswith("spark-worker-"):
        from flightdelay.embedded.spark import SparkWorker

        return SparkWorker(settings, int(name.rsplit("-", 1)[1]) - 1)
    if name == "web":
        from flightdelay.embedded.web import FlaskApp

        return FlaskApp(settings)
    raise SystemExit(f"no healthcheck for {name!r}")


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        raise SystemExit(__doc__)
    problem = service(argv[1], get_settings()).health()
    if problem:
        print(problem)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
