#!/usr/bin/env bash
# The official image's entrypoint, after exporting the project's Airflow connections and writing
# the admin's password file (airflow_env.py).
set -euo pipefail
exports="$(python /opt/flightdelay/docker/airflow/airflow_env.py)"
eval "${exports}"
exec /entrypoint "$@"
