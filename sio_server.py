"""The process entry point: Django (WSGI) wrapped by the Socket.IO server.

    gunicorn -k eventlet -w 1 -b 127.0.0.1:8000 sio_server:app
    python sio_server.py            # eventlet's own server, same app

``app`` serves the pages and ``/socket.io/`` from one process. The async mode
comes from SIO_ASYNC_MODE (eventlet by default, gevent supported: run it with
``gunicorn -k gevent``). With REDIS_URL set, any number of processes serve one
chat (docs/deploy.md).
"""

import os
import sys


def _detect_async_mode():
    """gevent when gunicorn's gevent worker has patched the standard library
    (so that ``gunicorn -k gevent`` works without SIO_ASYNC_MODE), else eventlet."""
    gevent_monkey = sys.modules.get("gevent.monkey")
    if gevent_monkey is not None and gevent_monkey.is_module_patched("socket"):
        return "gevent"
    return "eventlet"


ASYNC_MODE = os.environ.get("SIO_ASYNC_MODE", "").strip() or _detect_async_mode()

if __name__ == "__main__":
    # gunicorn's worker patches the standard library itself; a direct start must
    # do it before anything else imports socket or threading.
    if ASYNC_MODE == "eventlet":
        import eventlet

        eventlet.monkey_patch()
    elif ASYNC_MODE == "gevent":
        from gevent import monkey

        monkey.patch_all()

import logging  # noqa: E402

import socketio  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402

from d09.green import make_psycopg2_green  # noqa: E402

# Before Django opens any connection: a slow query must not stop the process.
GREEN_PSYCOPG2 = make_psycopg2_green(ASYNC_MODE)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "d09.settings")
django_app = get_wsgi_application()

from chat.event_db import event_connections  # noqa: E402
from chat.realtime import create_server, start_presence_upkeep  # noqa: E402  (needs Django)
from chat.shared import shared_state_from_env  # noqa: E402
from d09.gc_tuning import tune_gc  # noqa: E402
from d09.websocket_middleware import websocket_middleware  # noqa: E402

shared = shared_state_from_env()
logging.getLogger(__name__).info(
    "async mode %s, psycopg2 wait callback: %s, shared through %s",
    ASYNC_MODE,
    GREEN_PSYCOPG2,
    "Redis" if shared.multi_process else "memory (one process)",
)
sio = create_server(async_mode=ASYNC_MODE, shared=shared)
# Runs in each worker: gunicorn loads the app after forking (no --preload).
start_presence_upkeep(sio, shared)
# SQLite: handlers borrow open connections; one stays open (chat/event_db.py).
event_connections.keep_one_open()
# No permessage-deflate unless WS_COMPRESSION=1, no class defined per request for
# gunicorn's socket, no C stack frame kept per connection (memory, see the module).
app = websocket_middleware(socketio.WSGIApp(sio, django_app), async_mode=ASYNC_MODE)
# Log records without thread names: under eventlet, naming the current thread
# creates and keeps a green Thread object for every connection that logs (its
# green thread lives as long as the WebSocket). The log format does not show it.
logging.logThreads = False
# Last, once everything is loaded: freeze the start-up objects and make garbage
# collections rare (their pauses stop every connection; see the module).
tune_gc()


def main():
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8000"))
    if ASYNC_MODE == "eventlet":
        import eventlet
        import eventlet.wsgi

        eventlet.wsgi.server(eventlet.listen((host, port)), app, max_size=10000)
    else:
        from gevent import pywsgi

        pywsgi.WSGIServer((host, port), app).serve_forever()


if __name__ == "__main__":
    main()
