"""Operations events on the Kafka topic EVENTS_TOPIC (`flight-delay-events`), one JSON object each.

A `retrain` event asks for a new model now: `flightdelay retrain` sends one (and the monitoring DAG,
when drift passes its threshold). Airflow's AssetWatcher on the `retrain_requests` asset
(flightdelay/ops/airflow_assets.py) picks it with ``retrain_requested`` and the
`flight_delay_training` DAG runs, with the event's optional ``params`` (num_trees, max_depth,
min_rows_per_leaf, holdout_weeks, margin) over its defaults. Events of other types pass by.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from typing import Any

from flightdelay import kafka_auth
from flightdelay.ops.errors import ServiceError
from flightdelay.settings import Settings

RETRAIN = "retrain"
#: what a retrain event may set of the training DAG's params, and each one's type
RETRAIN_PARAMS = {"num_trees": int, "max_depth": int, "min_rows_per_leaf": int, "holdout_weeks": int, "margin": float}


def retrain_event(reason: str, requested_by: str | None = None, params: dict[str, Any] | None = None) -> dict:
    """A `retrain` event; ``params`` must be training params (RETRAIN_PARAMS)."""
    event = {
        "type": RETRAIN,
        "reason": reason,
        "requested_by": requested_by or os.environ.get("USER") or "unknown",
        "at": datetime.now(timezone.utc).isoformat(),
    }
    if params:
        event["params"] = training_params(params)
    return event


def training_params(params: dict[str, Any]) -> dict[str, Any]:
    """The known training params of an event, converted; ValueError names a wrong one."""
    unknown = sorted(set(params) - set(RETRAIN_PARAMS))
    if unknown:
        raise ValueError(f"unknown training params {unknown}; known: {sorted(RETRAIN_PARAMS)}")
    return {name: RETRAIN_PARAMS[name](value) for name, value in params.items()}


def send_event(settings: Settings, event: dict, timeout: float = 30.0) -> None:
    """Produce one event and wait for the broker's ack (ServiceError when it does not come)."""
    from confluent_kafka import Producer

    producer = Producer(kafka_auth.client_config(settings, **{"enable.idempotence": True}))
    failures = []
    producer.produce(
        settings.events_topic,
        value=json.dumps(event).encode(),
        key=event["type"].encode(),
        on_delivery=lambda err, msg: failures.append(err) if err else None,
    )
    if producer.flush(timeout) or failures:
        why = failures[0].str() if failures else f"no acknowledgement within {timeout:.0f} s"
        raise ServiceError(f"the {event['type']} event was not delivered to {settings.events_topic}: {why}")


def retrain_requested(message) -> dict | None:
    """The AssetWatcher's filter (a Kafka message in, the event out, None to pass it by): its
    return value becomes the asset event's ``payload``. A malformed message passes by."""
    try:
        event = json.loads(message.value())
    except (TypeError, ValueError):
        return None
    if not isinstance(event, dict) or event.get("type") != RETRAIN:
        return None
    return event
