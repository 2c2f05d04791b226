"""
### Flight delay streaming deployment

Deploys the real-time scorer (`spark_apps/score_stream.py`) on the Spark cluster and proves that
it answers: a canary request must come out in every sink.

1. `ensure_topics`: the request, response and dead-letter topics exist.
2. `require_model`: a promoted model is in the registry (run `flight_delay_training` first).
3. `deploy_scorer`: starts the streaming driver unless it already runs (never two instances; it
   resumes from its checkpoint on HDFS, so requests sent while it was down are scored). It is
   launched detached, without waiting, by `flightdelay.ops.scorer.ScoreStream`, not by `SparkSubmitOperator`: the
   operator (even with `durable=True`) follows the job until it ends, and a streaming driver never
   ends, while our Python driver runs in client mode, where there is no driver id to reconnect to.
4. `wait_for_spark_app`: the scorer is healthy (its driver's heartbeat) and the Spark master
   lists `score_stream` as RUNNING (a sensor).
5. `prepare_canary`: one well-formed request (`flightdelay.canary.canary_request`); the canary
   sensor's consumer group (connection `kafka_canary`) is committed at the response topic's end,
   so the sensor reads only the answers written from then on, never the whole topic.
6. `send_canary` (`ProduceToTopicOperator`): the request goes to the request topic.
7. The canary's prediction must reach every sink within a deadline; a failed sensor names the
   missing output:
   - `check_kafka` (`AwaitMessageSensor`, deferred to the triggerer): on the response topic;
   - `check_mongo` (`MongoSensor`): in MongoDB `flight_delay_ml_response`;
   - `check_hdfs`: in HDFS `/user/predictions`;
   - `check_nifi` (`NiFiOutputSensor`): in NiFi's output files; skipped by `nifi_running` when
     NiFi does not run.
8. `check_model_version`: the scorer answers with the promoted version (it swaps models between
   micro-batches within seconds of a promotion; until it does, each poke sends one more canary
   and reads its answer for a few seconds). The run's note names the version serving.

Every wait is a sensor: the Kafka one waits in the triggerer, the others poke every few seconds
in reschedule mode, so no worker slot sleeps between pokes.

Runs hourly (a crashed scorer is deployed again) and whenever a version is promoted (asset
`current_model`, updated by `flight_delay_training`).
"""

from __future__ import annotations

from datetime import timedelta

from airflow.providers.apache.kafka.operators.produce import ProduceToTopicOperator
from airflow.providers.apache.kafka.sensors.kafka import AwaitMessageSensor
from airflow.providers.mongo.sensors.mongo import MongoSensor
from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, PokeReturnValue, dag, task
from flightdelay_airflow.nifi import NiFiOutputSensor

from flightdelay.ops.airflow_assets import CURRENT_MODEL
from flightdelay.settings import get_settings
from flightdelay.store.queries import by_id

#: how long each output may take to show the canary's prediction
CANARY_DEADLINE_SECONDS = 180
#: how often the reschedule-mode sensors look again (their worker slot is free in between)
POKE_SECONDS = 5
#: how long one poke of check_model_version reads the response topic for its canary's answer
VERSION_ANSWER_SECONDS = 20
#: the sensors' shared arguments: short pokes, no slot held between them. Airflow 3.3 sometimes
#: fails a reschedule-mode sensor when one poke's process ends after its next poke was queued (its
#: "success" then looks like a task killed from outside, apache/airflow#71172: twice in one cold
#: start here). Quick retries ride that out; a real timeout is final (AirflowSensorTimeout is not
#: retried, and the timeout counts from the first try).
RESCHEDULE = {
    "mode": "reschedule",
    "poke_interval": POKE_SECONDS,
    "timeout": CANARY_DEADLINE_SECONDS,
    "retries": 4,
    "retry_delay": timedelta(seconds=2),
}

SETTINGS = get_settings()  # topic and collection names only: the hosts come from the connections


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

        admin = KafkaAdminClientHook(kafka_config_id="kafka_default").get_conn
        return create_missing(admin, SETTINGS.topics, SETTINGS.topic_partitions)

    @task(doc_md="Fail early, with the fix, when no model has been promoted yet.")
    def require_model() -> str:
        from airflow.providers.mongo.hooks.mongo import MongoHook

        from flightdelay.model.registry import ModelRegistry

        db = MongoHook(mongo_conn_id="mongo_default").get_conn()[SETTINGS.mongo_database]
        current = ModelRegistry(db).current()
        if current is None:
            raise RuntimeError("no promoted model: run the flight_delay_training DAG first")
        return current["version"]

    @task(doc_md="Start the streaming driver unless it already runs (one instance only).")
    def deploy_scorer() -> bool:
        from flightdelay.ops.scorer import ScoreStream

        started = ScoreStream(get_settings()).launch(log=print)  # wait_for_spark_app waits for it
        print("started a new scorer" if started else "the scorer was already running")
        return started

    @task.sensor(
        # a new driver takes 30-90 s to its first heartbeat (more on a busy machine)
        doc_md="The scorer is healthy and the Spark master lists it RUNNING, exactly once.",
        **RESCHEDULE | {"timeout": 240},
    )
    def wait_for_spark_app() -> PokeReturnValue:
        from flightdelay_airflow.hooks import SparkMasterHook

        from flightdelay.ops.scorer import APP_NAME, ScoreStream

        problem = ScoreStream(get_settings()).health()
        if problem is not None:
            print(f"the scorer is not healthy yet: {problem}")
            return PokeReturnValue(is_done=False)
        apps = SparkMasterHook().running_apps(APP_NAME)
        running = [a for a in apps if a.get("state") == "RUNNING"]
        if len(running) > 1:
            raise RuntimeError(f"expected one RUNNING {APP_NAME}, the master lists {apps}")
        if not running:
            print(f"the Spark master lists no RUNNING {APP_NAME} yet: {apps}")
            return PokeReturnValue(is_done=False)
        return PokeReturnValue(is_done=True, xcom_value=running[0]["id"])

    @task(multiple_outputs=True, doc_md="The canary request; the canary sensor's group set to read from now on.")
    def prepare_canary() -> dict:
        from airflow.providers.apache.kafka.hooks.consume import KafkaConsumerHook

        from flightdelay.canary import canary_request, read_answers_from_end

        request = canary_request()
        topic = SETTINGS.response_topic
        consumer = KafkaConsumerHook(topics=[topic], kafka_config_id="kafka_canary").get_conn
        try:
            ends = read_answers_from_end(consumer, topic)
        finally:
            consumer.close()
        print(f"canary {request['UUID']}: its answer is looked for after offsets {ends} of {topic}")
        return {"uuid": request["UUID"], "request": request}

    canary = prepare_canary()

    send_canary = ProduceToTopicOperator(
        task_id="send_canary",
        doc_md="Produce the canary request on the request topic.",
        kafka_config_id="kafka_default",
        topic=SETTINGS.request_topic,
        producer_function="flightdelay.canary.canary_messages",
        producer_function_args=[canary["request"]],
        delivery_callback="flightdelay.canary.raise_undelivered",
        execution_timeout=timedelta(minutes=2),
    )

    check_kafka = AwaitMessageSensor(
        task_id="check_kafka",
        doc_md="The canary's prediction is on the response topic (waits in the triggerer).",
        kafka_config_id="kafka_canary",  # its group starts where prepare_canary committed it
        topics=[SETTINGS.response_topic],
        apply_function="flightdelay.canary.answer_to",
        apply_function_args=[canary["uuid"]],
        poll_timeout=1,
        poll_interval=0,  # the trigger sleeps this long after every other record: read straight on
        # nothing committed: a retry reads again from where prepare_canary positioned the group, so
        # it still finds an answer its failed try had already read (each run positions it afresh)
        commit_offset=False,
        timeout=CANARY_DEADLINE_SECONDS,
        # a deferred task meets the same race as a rescheduled one when its trigger fires at once
        # (deferred, scheduled, then up_for_retry within 6 s in a CI run)
        retries=RESCHEDULE["retries"],
        retry_delay=RESCHEDULE["retry_delay"],
    )

    check_mongo = MongoSensor(
        task_id="check_mongo",
        doc_md="The canary's prediction is in MongoDB.",
        mongo_conn_id="mongo_default",  # its schema is the platform's database
        collection=SETTINGS.predictions_collection,
        query=by_id(canary["uuid"]),
        **RESCHEDULE,
    )

    @task.sensor(doc_md="The canary's prediction is in HDFS.", **RESCHEDULE)
    def check_hdfs(uuid: str) -> PokeReturnValue:
        from flightdelay_airflow.hooks import WebHdfsClientHook

        from flightdelay.canary import find_in_hdfs

        path = SETTINGS.hdfs_predictions_path
        found = find_in_hdfs(WebHdfsClientHook().client, path, uuid)
        if found is None:
            print(f"not in the newest files of HDFS {path} yet")
        return PokeReturnValue(is_done=found is not None, xcom_value=found)

    @task.short_circuit(
        ignore_downstream_trigger_rules=False,  # skips check_nifi only, never check_model_version
        doc_md="Whether NiFi runs (check_nifi is skipped when it does not).",
    )
    def nifi_running() -> bool:
        from flightdelay.canary import nifi_running as running

        if not running():
            print("NiFi is not running: its output is not checked")
            return False
        return True

    check_nifi = NiFiOutputSensor(
        task_id="check_nifi",
        doc_md="The canary's prediction is in NiFi's output files.",
        uuid=canary["uuid"],
        **RESCHEDULE,
    )

    @task.sensor(
        trigger_rule="none_failed",  # after every sink, check_nifi skipped or not
        doc_md="The scorer answers with the promoted version (one more canary per poke until it does).",
        **RESCHEDULE,
    )
    def check_model_version(expected: str, answer: dict) -> PokeReturnValue:
        import time

        from airflow.providers.apache.kafka.hooks.produce import KafkaProducerHook

        from flightdelay.canary import canary_messages, canary_request, find_on_response_topic

        answered = answer["ModelVersion"]
        if answered != expected:
            print(f"the canary was scored by {answered}, not the promoted {expected}: asking again")
            since_ms = int((time.time() - 60) * 1000)
            request = canary_request()
            producer = KafkaProducerHook(kafka_config_id="kafka_default").get_producer()
            for key, value in canary_messages(request):
                producer.produce(SETTINGS.request_topic, key=key, value=value)
            if producer.flush(30):
                raise RuntimeError("the canary request was not delivered to Kafka")
            found = find_on_response_topic(request["UUID"], timeout=VERSION_ANSWER_SECONDS, since_ms=since_ms)
            answered = (found or {}).get("ModelVersion")
            print(f"canary {request['UUID']}: scored by {answered}")
            if answered != expected:
                return PokeReturnValue(is_done=False)
        _note_serving(expected)
        return PokeReturnValue(is_done=True, xcom_value=expected)

    topics = ensure_topics()
    model = require_model()
    app = wait_for_spark_app()
    [topics, model] >> deploy_scorer() >> app >> canary >> send_canary
    hdfs = check_hdfs(canary["uuid"])
    send_canary >> [check_kafka, check_mongo, hdfs]
    send_canary >> nifi_running() >> check_nifi
    version = check_model_version(model, check_kafka.output)
    [check_mongo, hdfs, check_nifi] >> version


flight_delay_streaming()
