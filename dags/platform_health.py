"""
### Platform health

Checks, every 15 minutes, that each service the flight delay platform depends on answers over its
own protocol: the Kafka topics exist, MongoDB answers a ping, HDFS lists the predictions folder,
and the Spark master has its two workers alive. A failed task names the service that is down.

Connections (`kafka_default`, `mongo_default`, `webhdfs_default`, `spark_default`) are defined by
`flightdelay up` from the platform's settings.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

from flightdelay.settings import get_settings


@dag(
    dag_id="platform_health",
    schedule=timedelta(minutes=15),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": timedelta(seconds=30)},
    tags=["flightdelay", "ops"],
    doc_md=__doc__,
)
def platform_health():
    @task(doc_md="The request, response and dead-letter topics exist on the broker.")
    def kafka_topics() -> list[str]:
        from airflow.providers.apache.kafka.hooks.client import KafkaAdminClientHook

        admin = KafkaAdminClientHook(kafka_config_id="kafka_default").get_conn
        present = set(admin.list_topics(timeout=10).topics)
        missing = [t for t in get_settings().topics if t not in present]
        if missing:
            raise RuntimeError(f"Kafka is missing topics {missing}")
        return sorted(present)

    @task(doc_md="MongoDB (FerretDB) answers a ping; the collections present are listed.")
    def mongo_ping() -> list[str]:
        from airflow.providers.mongo.hooks.mongo import MongoHook

        client = MongoHook(mongo_conn_id="mongo_default").get_conn()
        client.admin.command("ping")
        return sorted(client[get_settings().mongo_database].list_collection_names())

    @task(doc_md="HDFS answers over WebHDFS and the predictions folder exists.")
    def hdfs_listing() -> int:
        from flightdelay_airflow.hooks import WebHdfsClientHook

        path = get_settings().hdfs_predictions_path
        hook = WebHdfsClientHook()
        if not hook.exists(path):
            raise RuntimeError(f"HDFS has no {path}")
        return len(hook.list_files(path))

    @task(doc_md="The Spark standalone master is alive with every worker registered.")
    def spark_workers() -> int:
        from flightdelay_airflow.hooks import SparkMasterHook

        expected = len(get_settings().spark_worker_ui_ports)
        alive = SparkMasterHook().alive_workers()
        if len(alive) < expected:
            raise RuntimeError(f"Spark has {len(alive)} alive workers, expected {expected}")
        return len(alive)

    kafka_topics()
    mongo_ping()
    hdfs_listing()
    spark_workers()


platform_health()
