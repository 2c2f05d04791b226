"""Airflow's menu links to the platform's other UIs: built from the settings, for a browser's host."""

from __future__ import annotations

import sys
from pathlib import Path

from flightdelay.ops.ui_links import platform_links
from flightdelay.settings import Settings

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"


def test_links_use_the_public_host_and_the_configured_ports(monkeypatch):
    monkeypatch.setenv("FLIGHTDELAY_PUBLIC_HOST", "flights.example")
    monkeypatch.setenv("SPARK_MASTER_UI_PORT", "18082")
    links = {link.name: link.href for link in platform_links(Settings())}
    assert links["Spark master"] == "http://flights.example:18082"
    assert links["NiFi"].startswith("https://flights.example:")
    assert links["Prediction page"].endswith("/flights/delays/predict_kafka")
    assert all("flights.example" in href for href in links.values())


def test_the_plugin_offers_them_in_the_navigation_bar(monkeypatch):
    monkeypatch.syspath_prepend(str(PLUGINS))
    sys.modules.pop("flightdelay_airflow.links", None)
    from flightdelay_airflow.links import CATEGORY, FlightDelayLinks

    views = FlightDelayLinks.external_views
    assert len(views) == len(platform_links(Settings()))
    assert all(v["destination"] == "nav" and v["category"] == CATEGORY and v["href"] for v in views)
