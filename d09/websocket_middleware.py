"""WSGI middleware for the chat's WebSockets: no permessage-deflate unless
WS_COMPRESSION=1 (WebSocketCompressionMiddleware), and gunicorn's socket handed
to eventlet without a class per request (GunicornSocketMiddleware, below).

eventlet's WebSocket server accepts permessage-deflate whenever the client
offers it, and browsers always offer it; python-engineio has no switch. Each
compressed connection then keeps about 100 KB of zlib state for its whole life,
and every broadcast is compressed once per recipient. Chat lines are short, so
the bandwidth saved is small next to that memory and CPU (Node's socket.io turns
the extension off by default for the same reason; bench/README.md has figures).

Removing the client's ``Sec-WebSocket-Extensions`` header from the request
before the WebSocket handshake is the only hook: the server then answers
without the extension and both sides send plain frames. ``WS_COMPRESSION=1``
keeps the old behaviour (for example behind a slow, metered link).
"""

from d09.env import env_bool

EXTENSIONS_KEY = "HTTP_SEC_WEBSOCKET_EXTENSIONS"


class WebSocketCompressionMiddleware:
    def __init__(self, app, allow_compression=None):
        self.app = app
        if allow_compression is None:
            allow_compression = env_bool("WS_COMPRESSION")
        self.allow_compression = allow_compression

    def __call__(self, environ, start_response):
        if not self.allow_compression:
            environ.pop(EXTENSIONS_KEY, None)
        return self.app(environ, start_response)


class SocketInput:
    """The object eventlet's WebSocket code reads the socket from
    (``environ["eventlet.input"].get_socket()``)."""

    __slots__ = ("socket",)

    def __init__(self, socket):
        self.socket = socket

    def get_socket(self):
        return self.socket


class GunicornSocketMiddleware:
    """Hand eventlet the gunicorn socket without a new class per request.

    Under gunicorn, python-engineio's WSGIApp wraps ``environ["gunicorn.socket"]``
    for eventlet in a class it defines inside ``__call__``: a new type object per
    request. Each WebSocket keeps its type alive (about 3 KB: the type, its
    dict, descriptors, weak references) and every page request leaves one
    behind for the cyclic garbage collector. This middleware sets
    ``eventlet.input`` itself, from one class, and takes ``gunicorn.socket`` out
    of the environ so that engineio does not build its own. Eventlet mode only:
    the other modes read the socket in other ways.
    """

    def __init__(self, app, async_mode="eventlet"):
        self.app = app
        self.active = async_mode == "eventlet"

    def __call__(self, environ, start_response):
        if self.active and "gunicorn.socket" in environ:
            socket = environ.pop("gunicorn.socket")
            environ.setdefault("eventlet.input", SocketInput(socket))
        return self.app(environ, start_response)
