"""
### Flight delay streaming deployment

Deploys the real-time scorer (`spark_apps/score_stream.py`) on the Spark cluster and proves that
it answers: a canary request must come out in every sink.

1. `ensure_topics`: the request, response and dead-letter topics exist.
2. `require_model`: a promoted model is in the registry (run `flight_delay_training` first).
3. `deploy_scorer`: starts the streaming driver unless it already runs (never two instances; it
   resumes from its checkpoint on HDFS, so requests sent while it was down are scored).
4. `wait_for_spark_app`: the Spark master lists `score_stream` as RUNNING.
5. `send_canary`: one well-formed request on the request topic.
6. `check_kafka`, `check_mongo`, `check_hdfs`, `check_nifi`: the canary's prediction is on the
   response topic, in MongoDB `flight_delay_ml_response`, in HDFS `/user/predictions` and, when
   NiFi runs, in NiFi's output files, each within a deadline; a failure names the missing output.
7. `check_model_version`: the scorer answers with the promoted version (it swaps models between
   micro-batches within seconds of a promotion; more canaries are sent until it does).

Runs hourly (a crashed scorer is deployed again) and whenever a version is promoted (asset
`current_model`, updated by `flight_delay_training`).
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, dag, task

from flightdelay.ops.airflow_assets import CURRENT_MODEL

CANARY_DEADLINE_SECONDS = 180


def _poll(check, what: str, deadline: float = CANARY_DEADLINE_SECONDS, every: float = 2.0):
    """What ``check`` finds (anything true) within ``deadline`` seconds, polled every ``every``."""
    from flightdelay.waiting import WaitTimeout, wait_until

    found = []

    def arrived() -> str | None:
        value = check()
        if value:
            found.append(value)
            return None
        return "not there yet"

    try:
        wait_until(arrived, what, timeout=deadline, interval=every)
    except WaitTimeout:
        raise RuntimeError(f"the canary's prediction did not reach {what} within {deadline:.0f}s") from None
    return found[0]


def _note_serving(version: str) -> None:
    """The run's note: which model version answers now (the UI shows it on the run)."""
    from flightdelay_airflow.notes import note_this_run

    note_this_run(f"Serving model **{version}**: the canary's answer reached every sink.")


@dag(
    dag_id="flight_delay_streaming",
    # hourly: re-deploys after a crash (a no-op while the scorer runs); and after each promotion
    schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable("0 * * * *", timezone="UTC"), assets=CURRENT_MODEL),
    catchup=False,  # no start_date: the first run waits for the next scheduled time
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": timedelta(seconds=30)},
    tags=["flightdelay", "streaming"],
    doc_md=__doc__,
)
def flight_delay_streaming():
    @task(doc_md="Create the request, response and dead-letter topics if missing.")
    def ensure_topics() -> list[str]:
        from airflow.providers.apache.kafka.hooks.client import KafkaAdminClientHook

        from flightdelay.ops.kafka import ensure_topics as create_missing
        from flightdelay.settings import get_settings

        settings = get_settings()
        admin = KafkaAdminClientHook(kafka_config_id="kafka_default").get_conn
        return create_missing(admin, settings.topics, settings.topic_partitions)

    @task(doc_md="Fail early, with the fix, when no model has been promoted yet.")
    def require_model() -> str:
        from airflow.providers.mongo.hooks.mongo import MongoHook

        from flightdelay.model.registry import ModelRegistry
        from flightdelay.settings import get_settings

        db = MongoHook(mongo_conn_id="mongo_default").get_conn()[get_settings().mongo_database]
        current = ModelRegistry(db).current()
        if current is None:
            raise RuntimeError("no promoted model: run the flight_delay_training DAG first")
        return current["version"]

    @task(doc_md="Start the streaming driver unless it already runs (one instance only).")
    def deploy_scorer() -> bool:
        from flightdelay.ops.scorer import ScoreStream
        from flightdelay.settings import get_settings

        started = ScoreStream(get_settings()).start(log=print)
        print("started a new scorer" if started else "the scorer was already running")
        return started

    @task(doc_md="The Spark master lists score_stream as RUNNING, exactly once.")
    def wait_for_spark_app() -> str:
        from flightdelay_airflow.hooks import SparkMasterHook

        from flightdelay.ops.scorer import APP_NAME

        apps = _poll(lambda: SparkMasterHook().running_apps(APP_NAME), "the Spark master", deadline=120)
        running = [a for a in apps if a.get("state") == "RUNNING"]
        if len(running) != 1:
            raise RuntimeError(f"expected one RUNNING {APP_NAME}, the master lists {apps}")
        return running[0]["id"]

    @task(doc_md="Produce one well-formed prediction request.")
    def send_canary() -> str:
        import json

        from airflow.providers.apache.kafka.hooks.produce import KafkaProducerHook

        from flightdelay.canary import canary_request
        from flightdelay.settings import get_settings

        request = canary_request()
        producer = KafkaProducerHook(kafka_config_id="kafka_default").get_producer()
        producer.produce(get_settings().request_topic, key=request["UUID"], value=json.dumps(request))
        if producer.flush(30):
            raise RuntimeError("the canary request was not delivered to Kafka")
        return request["UUID"]

    @task(doc_md="The canary's prediction is on the response topic.")
    def check_kafka(uuid: str) -> dict:
        import time

        from flightdelay.canary import find_on_response_topic

        # one consumer reading forward from the answers of the last few minutes (the canary was
        # sent just before this task), never a scan of the whole topic
        since_ms = int((time.time() - 600) * 1000)
        found = find_on_response_topic(uuid, timeout=CANARY_DEADLINE_SECONDS, since_ms=since_ms)
        if found is None:
            raise RuntimeError(
                f"the canary's prediction did not reach the Kafka response topic within {CANARY_DEADLINE_SECONDS}s"
            )
        return found

    @task(doc_md="The canary's prediction is in MongoDB.")
    def check_mongo(uuid: str) -> str:
        from airflow.providers.mongo.hooks.mongo import MongoHook

        from flightdelay.settings import get_settings
        from flightdelay.store.queries import by_id

        s = get_settings()
        coll = MongoHook(mongo_conn_id="mongo_default").get_conn()[s.mongo_database][s.predictions_collection]
        doc = _poll(lambda: coll.find_one(by_id(uuid)), f"MongoDB {s.predictions_collection}")
        return doc["ModelVersion"]

    @task(doc_md="The canary's prediction is in HDFS.")
    def check_hdfs(uuid: str) -> str:
        from flightdelay_airflow.hooks import WebHdfsClientHook

        from flightdelay.canary import find_in_hdfs
        from flightdelay.settings import get_settings

        path = get_settings().hdfs_predictions_path
        return _poll(lambda: find_in_hdfs(WebHdfsClientHook().client, path, uuid), f"HDFS {path}", every=5)

    @task(doc_md="When NiFi runs, the canary's prediction is in its output files.")
    def check_nifi(uuid: str) -> str:
        from flightdelay.canary import nifi_running
        from flightdelay.nifi.output import find_in_nifi_output

        if not nifi_running():
            print("NiFi is not running: nothing to check")
            return "skipped"
        return _poll(lambda: find_in_nifi_output(uuid), "NiFi's output directory", every=5)

    @task(doc_md="The scorer answers with the promoted version (more canaries until it does).")
    def check_model_version(expected: str, answered: str) -> str:
        import json

        from airflow.providers.apache.kafka.hooks.produce import KafkaProducerHook

        from flightdelay.canary import canary_request, find_on_response_topic
        from flightdelay.settings import get_settings

        if answered == expected:
            _note_serving(expected)
            return answered
        print(f"the canary was scored by {answered}, not the promoted {expected}: asking again")
        producer = KafkaProducerHook(kafka_config_id="kafka_default").get_producer()

        def version_now():
            import time

            since_ms = int((time.time() - 60) * 1000)
            request = canary_request()
            producer.produce(get_settings().request_topic, key=request["UUID"], value=json.dumps(request))
            producer.flush(30)
            found = find_on_response_topic(request["UUID"], timeout=30, since_ms=since_ms)
            version = (found or {}).get("ModelVersion")
            print(f"canary {request['UUID']}: scored by {version}")
            return version if version == expected else None

        version = _poll(version_now, f"an answer of model {expected}", deadline=CANARY_DEADLINE_SECONDS, every=5)
        _note_serving(version)
        return version

    topics = ensure_topics()
    model = require_model()
    deployed = deploy_scorer()
    app = wait_for_spark_app()
    uuid = send_canary()
    [topics, model] >> deployed >> app >> uuid
    check_kafka(uuid)
    answered = check_mongo(uuid)
    check_hdfs(uuid)
    check_nifi(uuid)
    check_model_version(model, answered)


flight_delay_streaming()
