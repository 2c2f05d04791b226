"""The front end as an embedded service: gunicorn with gthread workers on loopback, no debug."""

from __future__ import annotations

import pytest

from flightdelay.embedded.web import FlaskApp
from flightdelay.ops.web import WSGI_APP
from flightdelay.settings import Settings
from flightdelay.web.config import WebConfig


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    monkeypatch.setenv("FLIGHTDELAY_VAR_DIR", str(tmp_path))
    return Settings()


def test_gunicorn_serves_the_app_on_loopback_with_threads(settings):
    service = FlaskApp(settings)
    command = service.command()
    assert command[0].endswith("/gunicorn")
    assert command[command.index("--bind") + 1] == "127.0.0.1:5001"
    assert command[command.index("--worker-class") + 1] == "gthread"
    assert int(command[command.index("--threads") + 1]) >= 8
    assert command[-1] == WSGI_APP == "flightdelay.web.wsgi:app"
    assert not any("reload" in part or "debug" in part for part in command)
    assert service.ports() == [5001]
    assert set(service.depends_on) == {"kafka", "ferretdb"}


def test_the_address_comes_from_the_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("FLIGHTDELAY_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("WEB_PORT", "5099")
    service = FlaskApp(Settings())
    assert "127.0.0.1:5099" in service.command()
    assert service.url == "http://127.0.0.1:5099"


def test_the_web_config_follows_the_settings(settings):
    config = WebConfig.from_settings(settings)
    assert config.kafka_bootstrap == settings.kafka_bootstrap
    assert config.request_topic == "flask-ml-delays-request"
    assert config.response_topic == "flask-ml-delays-responses"
    assert config.predictions_collection == "flight_delay_ml_response"
    assert config.cache_dir == settings.var_dir / "web"
    assert config.flask_settings()["MAX_CONTENT_LENGTH"] == config.max_body_bytes


def test_importing_the_package_connects_to_nothing():
    import subprocess
    import sys

    code = (
        "import sys, flightdelay.web, flightdelay.web.routes, flightdelay.web.kafka_bridge;"
        "print('confluent_kafka' in sys.modules, 'pymongo' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
