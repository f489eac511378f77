"""The process entry point: Django (WSGI) wrapped by the Socket.IO server.

    gunicorn -k eventlet -w 1 -b 127.0.0.1:8000 sio_server:app
    python sio_server.py            # eventlet's own server, same app

``app`` serves the pages and ``/socket.io/`` from one process. The async mode
comes from SIO_ASYNC_MODE (eventlet by default, gevent supported).
"""

import os

ASYNC_MODE = os.environ.get("SIO_ASYNC_MODE", "eventlet").strip() or "eventlet"

if __name__ == "__main__":
    # gunicorn's worker patches the standard library itself; a direct start must
    # do it before anything else imports socket or threading.
    if ASYNC_MODE == "eventlet":
        import eventlet

        eventlet.monkey_patch()
    elif ASYNC_MODE == "gevent":
        from gevent import monkey

        monkey.patch_all()

import socketio  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "d09.settings")
django_app = get_wsgi_application()

from chat.realtime import create_server  # noqa: E402  (needs Django set up)
from chat.sqlite_keeper import keep_sqlite_open  # noqa: E402
from d09.websocket_middleware import WebSocketCompressionMiddleware  # noqa: E402

sio = create_server(async_mode=ASYNC_MODE)
# SQLite: no WAL checkpoint + fsync inside each message handler (see the module).
sqlite_keeper = keep_sqlite_open()
# No permessage-deflate unless WS_COMPRESSION=1 (memory per connection, see the module).
app = WebSocketCompressionMiddleware(socketio.WSGIApp(sio, django_app))


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
