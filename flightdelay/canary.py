"""A canary prediction request and where to look for its answer (used by the deploy DAG)."""

from __future__ import annotations

import json
import time
from datetime import date

from flightdelay.contract import new_request
from flightdelay.settings import get_settings


def canary_request() -> dict:
    """A well-formed request on a busy route, flying today."""
    fields = {"Origin": "JFK", "Dest": "LAX", "Carrier": "AA", "FlightDate": date.today().isoformat(),
              "DepDelay": 5, "FlightNum": "1"}  # fmt: skip
    return new_request(fields)


def find_by_key(topic: str, key: str, timeout: float = 30.0) -> bytes | None:
    """Read a topic from its start (a throw-away consumer group) until a record with this key;
    its value, or None after the timeout."""
    from confluent_kafka import Consumer

    consumer = Consumer(
        {
            "bootstrap.servers": get_settings().kafka_bootstrap,
            "group.id": f"find-{key}-{time.monotonic_ns()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is not None and not msg.error() and msg.key() == key.encode():
                return msg.value()
        return None
    finally:
        consumer.close()


def find_on_response_topic(uuid: str, timeout: float = 30.0) -> dict | None:
    """The scorer's answer to a request, from the response topic."""
    value = find_by_key(get_settings().response_topic, uuid, timeout)
    return json.loads(value) if value is not None else None


def find_in_hdfs(client, folder: str, uuid: str, newest: int = 20) -> str | None:
    """The newest prediction files that mention the UUID (the scorer writes one per batch)."""
    names = sorted(client.list(folder))[-newest:]
    for name in reversed(names):
        with client.read(f"{folder}/{name}", encoding="utf-8") as reader:
            if uuid in reader.read():
                return f"{folder}/{name}"
    return None


def nifi_running() -> bool:
    from flightdelay.embedded.base import port_open

    settings = get_settings()
    return port_open(settings.nifi_host, settings.nifi_port)


def find_in_nifi_output(uuid: str, newest: int = 50) -> str | None:
    folder = get_settings().nifi_output_dir
    if not folder.is_dir():
        return None
    files = sorted(folder.iterdir(), key=lambda p: p.stat().st_mtime)[-newest:]
    for path in reversed(files):
        if uuid in path.read_text(errors="replace"):
            return str(path)
    return None
