"""The process entry point: Django (WSGI) wrapped by the Socket.IO server.

    gunicorn -k eventlet -w 1 -b 127.0.0.1:8000 sio_server:app
    python sio_server.py            # eventlet's own server, same app

``app`` serves the pages and ``/socket.io/`` from one process; it is built by
``d09.runtime.app.create_app``. The async mode is eventlet unless SIO_ASYNC_MODE
says otherwise or gunicorn's gevent worker patched the process (``gunicorn -k
gevent``). With REDIS_URL set, any number of processes serve one chat
(docs/deploy.md).
"""

import os
from pathlib import Path

from d09.env import env_str, load_dotenv

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "d09.settings")

if __name__ == "__main__":
    # gunicorn's worker patches the standard library itself; a direct start
    # must do it before anything imports socket or threading, so before the
    # settings: SIO_ASYNC_MODE (also a setting) is read here from the
    # environment and the project's .env, the one early read.
    load_dotenv(Path(__file__).resolve().parent / ".env")
    if env_str("SIO_ASYNC_MODE") == "gevent":
        from gevent import monkey

        monkey.patch_all()
    else:
        import eventlet

        eventlet.monkey_patch()

import django
from django.conf import settings

from d09.runtime.app import create_app, detect_async_mode

django.setup()
ASYNC_MODE = detect_async_mode(settings.SIO_ASYNC_MODE)
app, sio, backend = create_app(ASYNC_MODE)


def main():
    host, port = settings.SERVE_HOST, settings.SERVE_PORT
    if ASYNC_MODE == "eventlet":
        import eventlet
        import eventlet.wsgi

        eventlet.wsgi.server(eventlet.listen((host, port)), app, max_size=10000)
    else:
        from gevent import pywsgi

        pywsgi.WSGIServer((host, port), app).serve_forever()


if __name__ == "__main__":
    main()
