"""The WSGI entry point for gunicorn: ``gunicorn flightdelay.web.wsgi:app``.

gunicorn imports this in each worker after forking, so the response listener starts here, in the
process that serves the requests, following the response topic from the moment the worker is up.
"""

from __future__ import annotations

import logging

from flightdelay.web import create_app
from flightdelay.web.config import WebConfig

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
logging.getLogger("flightdelay.web.librdkafka").setLevel(logging.WARNING)

app = create_app(WebConfig.from_settings(listen_at_start=True))
