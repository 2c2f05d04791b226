"""The Flask front end: a page to ask for a delay prediction and see it arrive.

``create_app(config)`` builds an app with its own Kafka producer, response listener and MongoDB
client (``app.extensions["flightdelay"]``), created lazily: nothing connects when this package
is imported. Served by gunicorn (``flightdelay.web.wsgi:app``, see ``flightdelay.ops.web``),
never by Flask's debug server.
"""

from __future__ import annotations

from typing import Any, Mapping

from flask import Flask

from flightdelay.web.config import WebConfig

# The page loads only its own script and style sheet; nothing from elsewhere, no inline code.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def create_app(config: WebConfig | Mapping[str, Any] | None = None) -> Flask:
    """An app configured from the settings module; ``config`` is a WebConfig, or a mapping of
    WebConfig fields to override (tests point Kafka at a closed port this way)."""
    from flightdelay.web.kafka_bridge import KafkaBridge
    from flightdelay.web.metrics import WebMetrics
    from flightdelay.web.reference import ReferenceData
    from flightdelay.web.routes import api, pages, register_error_handlers
    from flightdelay.web.streams import StreamSlots

    if config is None:
        web_config = WebConfig.from_settings()
    elif isinstance(config, WebConfig):
        web_config = config
    else:
        web_config = WebConfig.from_settings().with_overrides(config)

    app = Flask(__name__)
    app.config.update(web_config.flask_settings())
    app.json.sort_keys = False

    links = KafkaBridge(web_config)
    slots = StreamSlots(web_config.max_streams)
    metrics = WebMetrics(links, slots)
    app.extensions["flightdelay"] = {
        "config": web_config,
        "bridge": links,
        "reference": ReferenceData(web_config, links),
        "streams": slots,
        "metrics": metrics,
    }
    metrics.install(app)
    app.register_blueprint(pages)
    app.register_blueprint(api)
    register_error_handlers(app)

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    if web_config.listen_at_start:
        links.start()
    return app


def close_app(app: Flask) -> None:
    """Stop the listener and close the clients (tests; gunicorn workers just exit)."""
    app.extensions["flightdelay"]["bridge"].close()
