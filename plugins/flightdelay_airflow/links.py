"""The platform's other UIs in Airflow's navigation bar, under "Flight delay" (Airflow 3 external
views; the links open in a new tab)."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from flightdelay.ops.ui_links import platform_links
from flightdelay.settings import get_settings

CATEGORY = "Flight delay"


class FlightDelayLinks(AirflowPlugin):
    name = "flightdelay_links"
    external_views = [
        {"name": link.name, "href": link.href, "destination": "nav", "category": CATEGORY}
        for link in platform_links(get_settings())
    ]
