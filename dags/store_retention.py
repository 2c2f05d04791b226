"""
### Store retention

Every day, deletes from MongoDB `flight_delay_ml_response` the predictions scored more than
`PREDICTIONS_RETENTION_DAYS` days ago (default 30). HDFS `/user/predictions` keeps every one.
It also deletes NiFi's local output files older than `NIFI_OUTPUT_RETENTION_DAYS` (default 7);
NiFi's copies in HDFS (`/user/nifi/predictions`) stay.

The predictions collection grows by ~432,000 documents a day at 5 requests/s; without this task
MongoDB would hold them all. Deletes go day by day on `ScoredDay` (the UTC day of `ScoredAt`),
an equality filter FerretDB pushes down to its GIN index, so each day costs one index look-up.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task


@dag(
    dag_id="store_retention",
    schedule="30 2 * * *",  # daily, 02:30 UTC
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    tags=["flightdelay", "ops", "retention"],
    doc_md=__doc__,
)
def store_retention():
    @task(doc_md="Delete the predictions older than `PREDICTIONS_RETENTION_DAYS` from MongoDB.")
    def delete_expired_predictions() -> dict:
        from airflow.providers.mongo.hooks.mongo import MongoHook

        from flightdelay.settings import get_settings
        from flightdelay.store.retention import delete_expired_predictions as delete_expired

        settings = get_settings()
        db = MongoHook(mongo_conn_id="mongo_default").get_conn()[settings.mongo_database]
        report = delete_expired(db, settings)
        print(report)
        return {"cutoff": report.cutoff, "deleted": report.deleted, "days": report.days}

    @task(doc_md="Delete NiFi's local output files older than `NIFI_OUTPUT_RETENTION_DAYS` (HDFS keeps copies).")
    def delete_old_nifi_output() -> dict:
        from flightdelay.nifi.output import delete_old_output
        from flightdelay.settings import get_settings

        settings = get_settings()
        report = delete_old_output(settings.nifi_output_retention_days, settings.nifi_output_dir)
        print(report)
        return {"cutoff": report.cutoff, "deleted": report.deleted, "freed_bytes": report.freed_bytes}

    delete_expired_predictions()
    delete_old_nifi_output()


store_retention()
