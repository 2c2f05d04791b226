"""Where a person finds each part of the platform in a browser: the prediction page, the serving
model and its monitoring, the Spark master, the HDFS NameNode, NiFi and the metrics. Airflow shows them in its menu
(plugins/flightdelay_airflow/links.py); the host is FLIGHTDELAY_PUBLIC_HOST (127.0.0.1), the host
a browser uses, which with docker compose is the machine publishing the ports, not a service name.
"""

from __future__ import annotations

from dataclasses import dataclass

from flightdelay.settings import Settings


@dataclass(frozen=True)
class Link:
    name: str
    href: str


def platform_links(settings: Settings) -> list[Link]:
    host = settings.public_host
    web = f"http://{host}:{settings.web_port}"
    return [
        Link("Prediction page", f"{web}/flights/delays/predict_kafka"),
        Link("Serving model", f"{web}/api/model"),
        Link("Model monitoring", f"{web}/ops"),
        Link("Spark master", f"http://{host}:{settings.spark_master_ui_port}"),
        Link("HDFS NameNode", f"http://{host}:{settings.hdfs_http_port}"),
        Link("NiFi", f"https://{host}:{settings.nifi_port}/nifi"),
        Link("Web metrics", f"{web}/metrics"),
        Link("Scorer metrics", f"http://{host}:{settings.scorer_metrics_port}/metrics"),
    ]
