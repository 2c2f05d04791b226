"""One-shot set-up jobs of the compose deployment, each the operations code the embedded platform runs too.

    python docker/platform/init_jobs.py kafka-topics   request, response and dead-letter topics
    python docker/platform/init_jobs.py mongo-indexes  the collections and the indexes their queries use
    python docker/platform/init_jobs.py hdfs-folders   predictions, models, checkpoints, NiFi folders
    python docker/platform/init_jobs.py nifi-flow      nifi/prediction_flow.json applied to NiFi

Each job is idempotent and exits non-zero with the reason when it cannot finish, so a dependant
that waits for `service_completed_successfully` never starts on a half-made platform. The first
import, training and scorer deployment are `python -m flightdelay.cli bootstrap` (the `bootstrap`
service), exactly as `make up` runs them.
"""

from __future__ import annotations

import sys
from pathlib import Path

from flightdelay.settings import Settings, get_settings

# NiFi's certificate, exported by docker/nifi/start.sh into the nifi-ca volume mounted here
NIFI_CA_FILE = Path("/opt/flightdelay/nifi-ca/nifi-cert.pem")
# NiFi discovers the Python processors in the background after its REST API answers
NIFI_PROCESSORS_DEADLINE_S = 300.0


def kafka_topics(settings: Settings) -> None:
    from flightdelay.ops.kafka import ensure_platform_topics

    user_created, created = ensure_platform_topics(settings)
    if user_created:
        print(f"kafka user {settings.kafka_user} created")
    print(f"kafka topics created: {', '.join(created) or 'none (all exist)'}")


def mongo_indexes(settings: Settings) -> None:
    from pymongo import MongoClient

    from flightdelay.store.indexes import ensure_indexes

    with MongoClient(settings.mongo_uri, serverSelectionTimeoutMS=30_000) as client:
        created = ensure_indexes(client[settings.mongo_database], settings)
    print(f"mongo indexes created: {len(created)} (the others existed)")


def hdfs_folders(settings: Settings) -> None:
    from flightdelay.ops.hdfs import ensure_layout

    ensure_layout(settings)  # as the embedded DataNode does once healthy
    print("hdfs folders exist")


def nifi_flow(settings: Settings) -> None:
    from flightdelay.nifi.client import FlowError, NiFiClient
    from flightdelay.nifi.flow import apply_flow
    from flightdelay.waiting import wait_until

    if not settings.nifi_password:
        raise SystemExit("NIFI_PASSWORD is not set")
    # The official image uses NiFi's single-user authorizer, which gives the one user every right:
    # there are no policies to grant (grant_admin_policies is for the embedded managed authorizer).
    client = NiFiClient(settings.nifi_url, settings.nifi_user, settings.nifi_password, NIFI_CA_FILE)

    def applied() -> str | None:
        try:
            apply_flow(settings, client=client)
        except FlowError as exc:
            if "is not available in this NiFi" not in str(exc):
                raise  # any other refusal will not go away by waiting
            return str(exc)
        return None

    wait_until(
        applied,
        "NiFi to load its Python processors",
        timeout=NIFI_PROCESSORS_DEADLINE_S,
        interval=5,
        log=lambda line: print(line, flush=True),
        report_every_s=0,  # every retry, as the job's only sign of life
    )


JOBS = {"kafka-topics": kafka_topics, "mongo-indexes": mongo_indexes, "hdfs-folders": hdfs_folders, "nifi-flow": nifi_flow}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] not in JOBS:
        raise SystemExit(__doc__)
    JOBS[argv[1]](get_settings())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
