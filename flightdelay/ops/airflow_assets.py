"""The assets that chain the DAGs (Airflow's Assets view shows them):

    flight_history   -- flight_data_import, when it added or trimmed flights
    retrain_requests -- a `retrain` event on the events topic (an AssetWatcher, no DAG)
        both start flight_delay_training (or its weekly time does)
    current_model    -- flight_delay_training's promote_model, when a version is promoted
        starts flight_delay_streaming (or its hourly time does), which checks the scorer took it,
        and flight_delay_monitoring (or its daily time does)
    model_monitoring -- flight_delay_monitoring, a report per window (drift, latency, accuracy)

Only DAG files import this module (it imports Airflow and the Kafka provider).
"""

from __future__ import annotations

from airflow.providers.apache.kafka.triggers.msg_queue import KafkaMessageQueueTrigger
from airflow.sdk import Asset, AssetWatcher

from flightdelay.settings import get_settings

_settings = get_settings()

FLIGHT_HISTORY = Asset(
    name="flight_history",
    uri=f"mongodb://{_settings.mongo_host}:{_settings.mongo_port}/{_settings.mongo_database}/{_settings.flights_collection}",
    group="flightdelay",
)

CURRENT_MODEL = Asset(
    name="current_model",
    uri=f"mongodb://{_settings.mongo_host}:{_settings.mongo_port}/{_settings.mongo_database}/{_settings.model_registry_collection}",
    group="flightdelay",
)

RETRAIN_REQUESTS = Asset(
    name="retrain_requests",
    uri=f"kafka://{_settings.kafka_bootstrap}/{_settings.events_topic}",
    group="flightdelay",
    watchers=[
        AssetWatcher(
            name="retrain_events",
            trigger=KafkaMessageQueueTrigger(
                topics=[_settings.events_topic],
                kafka_config_id="kafka_events",
                apply_function="flightdelay.ops.events.retrain_requested",
                poll_interval=1,
            ),
        )
    ],
)

MODEL_MONITORING = Asset(
    name="model_monitoring",
    uri=f"mongodb://{_settings.mongo_host}:{_settings.mongo_port}/{_settings.mongo_database}/{_settings.monitoring_collection}",
    group="flightdelay",
)
