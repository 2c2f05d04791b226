"""Shell exports for an Airflow container: the project's connections and HDFS user, and the admin's
password file.

The connections are those the embedded platform gives Airflow (flightdelay/ops/airflow.py),
built from the same settings, so the DAGs find Spark, Kafka, MongoDB and WebHDFS under the compose
service names without naming a host. The simple auth manager reads the admin's password
(AIRFLOW_PASSWORD) from the file named by AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

from flightdelay.ops.airflow import connections
from flightdelay.secrets import write_private
from flightdelay.settings import get_settings


def main() -> None:
    settings = get_settings()
    for name, value in connections(settings).items():
        print(f"export {name}={shlex.quote(value)}")
    # Spark drivers of the tasks (and so their executors) write HDFS as the platform's user, the
    # owner of /models, /checkpoints and /user/predictions, as the embedded platform's do
    print(f"export HADOOP_USER_NAME={shlex.quote(settings.hdfs_user)}")
    passwords_file = os.environ.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE")
    if settings.airflow_password and passwords_file:
        write_private(Path(passwords_file), json.dumps({settings.airflow_user: settings.airflow_password}))


if __name__ == "__main__":
    main()
