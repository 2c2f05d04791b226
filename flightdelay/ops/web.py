"""How the Flask front end is served in either deployment: gunicorn's command line, bound to
WEB_HOST:WEB_PORT (127.0.0.1:5001 by default), and its health. The embedded platform's `web` row
(flightdelay/embedded/web.py) and the compose image (docker/platform/serve_web.py) both run it.

One gthread worker with many threads, and a bounded number of result streams. Each Server-Sent
Events stream holds one thread while it waits (at most ``stream_timeout_s``, less once its client
hangs up), so the worker has ``MAX_STREAMS`` threads for streams plus ``THREADS_FOR_OTHER_ROUTES``
that a stream can never take: the page, the JSON routes and /healthz answer however many streams
are open. A stream asked for while all slots are taken is answered 503 with Retry-After and the
page polls the response route instead (``flightdelay.web.streams``). One worker also means one
response listener and one cache.

Why not an async worker class (gevent, eventlet): the Kafka bridge makes blocking librdkafka calls
(the listener's ``consumer.poll(0.5)``, each POST's ``producer.poll`` until the broker's ack,
``list_topics`` for /healthz) that monkey-patching cannot make cooperative; they would stop every
greenlet for their duration. Idle threads cost little here: a waiting stream sleeps on a queue
and wakes about once a second to see whether its client is still there (224 open streams: 247
threads, 70 MB resident).

bench/web_streams.py measures it. On 2 shared cores under load (load average 5-7): 200 streams
open in under a second; meanwhile /healthz p50 20 ms, p99 200-450 ms and the POST route p50 4 ms,
p99 80-115 ms, as with no stream open; a slot is free again about 1 s after its client leaves.
With 32 threads and no slots, 33 open streams kept every route waiting until they closed.

Healthy means GET /healthz answers 200, i.e. the app reaches Kafka and MongoDB.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from pathlib import Path

from flightdelay.settings import Settings

# result streams open at once (issue #12 asks for 200 beside a responsive page and JSON routes);
# the app's StreamSlots (flightdelay.web.streams) hold them to this
MAX_STREAMS = 224
WSGI_APP = "flightdelay.web.wsgi:app"
WORKERS = 1
# threads no stream can hold: the page, the JSON routes and /healthz always find one
THREADS_FOR_OTHER_ROUTES = 32
THREADS = MAX_STREAMS + THREADS_FOR_OTHER_ROUTES
#: what gunicorn's process needs beyond the inherited environment
ENVIRONMENT = {"PYTHONUNBUFFERED": "1"}


def gunicorn() -> Path:
    return Path(sys.executable).parent / "gunicorn"


def url(settings: Settings) -> str:
    return f"http://{settings.web_host}:{settings.web_port}"


def gunicorn_command(settings: Settings) -> list[str]:
    return [
        str(gunicorn()),
        "--bind", f"{settings.web_host}:{settings.web_port}",
        "--worker-class", "gthread",
        "--workers", str(WORKERS),
        "--threads", str(THREADS),
        # the worker heartbeat, not a request limit: long SSE streams are fine with gthread
        "--timeout", "60",
        "--graceful-timeout", "10",
        "--keep-alive", "5",
        "--access-logfile", "-",
        "--error-logfile", "-",
        "--capture-output",
        # pid file and signals manage it (flightdelay down); no socket under ~/.gunicorn
        "--no-control-socket",
        WSGI_APP,
    ]  # fmt: skip


def healthz_problem(settings: Settings) -> str | None:
    """Health of the web: None when GET /healthz answers 200, else which dependency it misses."""
    try:
        with urllib.request.urlopen(f"{url(settings)}/healthz", timeout=5) as reply:
            return None if reply.status == 200 else f"/healthz answered HTTP {reply.status}"
    except urllib.error.HTTPError as exc:
        try:
            report = json.loads(exc.read())
            down = [k for k in ("kafka", "mongodb") if not report.get(k, {}).get("ok")]
            return f"/healthz answered {exc.code}: {', '.join(down) or 'unknown'} unreachable"
        except ValueError:
            return f"/healthz answered HTTP {exc.code}"
