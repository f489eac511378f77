"""The WSGI middleware in front of the chat's WebSockets (``websocket_middleware``):

1. No permessage-deflate unless WS_COMPRESSION=1. eventlet's WebSocket server
   accepts permessage-deflate whenever the client offers it, and browsers always
   offer it; python-engineio has no switch. Each compressed connection then
   keeps about 100 KB of zlib state for its whole life, and every broadcast is
   compressed once per recipient. Chat lines are short, so the bandwidth saved
   is small next to that memory and CPU (Node's socket.io turns the extension
   off by default for the same reason; bench/README.md has figures). Removing
   the client's ``Sec-WebSocket-Extensions`` header before the handshake is the
   only hook: the server then answers without the extension and both sides send
   plain frames. ``WS_COMPRESSION=1`` keeps the old behaviour (for example
   behind a slow, metered link).

2. gunicorn's socket handed to eventlet without a class per request. Under
   gunicorn, python-engineio's WSGIApp wraps ``environ["gunicorn.socket"]`` for
   eventlet in a class it defines inside ``__call__``: a new type object per
   request. Each WebSocket keeps its type alive (about 3 KB: the type, its dict,
   descriptors, weak references) and every page request leaves one behind for
   the cyclic garbage collector. The middleware sets ``eventlet.input`` itself,
   from one class, and takes ``gunicorn.socket`` out of the environ so that
   engineio does not build its own. Eventlet mode only: the other modes read the
   socket in other ways.

3. No C stack frame of its own. The green thread that reads a WebSocket lives as
   long as the connection, and keeps a copy of its C stack while it waits.
   Calling an object with ``__call__`` recurses into the interpreter in C (about
   0.6 KB of that copy per level); calling a plain function or a bound method
   does not. So the middleware is a function, and it calls the app's
   ``__call__`` method rather than the app object.

4. Eventlet's WebSocket code writes to ``environ["wsgi.errors"]`` (gunicorn's
   error log) "socket shutdown error: [Errno 9] Bad file descriptor" with no
   newline for WebSockets whose socket was already closed (every ordinary
   close), gluing log lines together. WebSocket requests get an error stream
   that logs each write as one line and drops that harmless one.

5. No JSONP. Engine.IO's long-polling answers ``?j=<n>`` with a script, which
   a cross-site ``<script>`` tag loads with the visitor's cookies and no Origin
   header: a door the origin check does not cover. It is refused with 400 in
   every configuration (the page and standard clients never use it).

7. A WebSocket closed by another green thread than its reader leaves no
   listener behind. python-engineio closes a WebSocket from its writer green
   thread (an Engine.IO close packet from the client, a server-side
   disconnect, the connect timeout) while the reader may be waiting in
   ``recv()`` on it. A bare close there leaves the reader's listener in
   eventlet's hub on a file descriptor that the kernel gives to the next
   socket: when that is a PostgreSQL connection (psycopg2's wait callback),
   its first read fails with "Second simultaneous read on fileno N" (seen: a
   500 on a login after a refused chat connection). The socket eventlet's
   WebSocket code gets (``SocketInput``) first tells the hub that the
   descriptor is gone (``eventlet.hubs.notify_opened``: its listeners are
   removed and their green threads get ``IOClosed``), then closes it at once.
   Closing later (a shutdown, and the descriptor left to gunicorn when the
   request ends) kept the connections of clients that do not read half-open
   for as long as their reader was held: 100 such clients took the p99 of
   1,000 members of their room from 0.5-0.8 s to 3-4 s (bench/README.md,
   "Clients that do not read").

6. A new Engine.IO session that the worker does not take (over its session
   cap, its event loop late, no join slot free in time: d09/runtime/capacity.py)
   gets ``503`` with a spread ``Retry-After`` before it holds anything but its
   socket.
"""

import contextlib
import logging
import types
from urllib.parse import parse_qs

from django.conf import settings

from d09.runtime.capacity import retry_after

logger = logging.getLogger(__name__)

EXTENSIONS_KEY = "HTTP_SEC_WEBSOCKET_EXTENSIONS"


class SocketInput:
    """The object eventlet's WebSocket code reads the socket from
    (``environ["eventlet.input"].get_socket()``), and that socket as it sees it:
    gunicorn's, but for ``close()`` (rule 7)."""

    __slots__ = ("socket",)

    def __init__(self, socket):
        self.socket = socket

    def get_socket(self):
        return self

    def close(self):
        """Close the connection now, after waking whoever waits on it (rule 7)."""
        from eventlet import hubs  # only eventlet's WebSocket code calls this

        with contextlib.suppress(OSError):  # closed already
            fileno = self.socket.fileno()
            if fileno >= 0:
                hubs.notify_opened(fileno)
        self.socket.close()

    def __getattr__(self, name):  # recv, sendall, shutdown, fileno...: gunicorn's
        return getattr(self.socket, name)


class WebSocketErrors:
    """The error stream of WebSocket requests (point 4): one log line per write."""

    __slots__ = ()

    def write(self, text):
        text = str(text).strip()
        if not text:
            return
        if "socket shutdown error" in text and "Errno 9" in text:
            logger.debug("%s", text)  # the socket was closed already: nothing to say
        else:
            logger.warning("%s", text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        pass


WEBSOCKET_ERRORS = WebSocketErrors()  # stateless: one for every connection
JSONP_REFUSED = b'{"error": "JSONP is not supported: use the WebSocket transport."}'
BUSY = b'{"error": "The chat is full right now: try again in a moment."}'


ENGINEIO_TRANSPORTS = frozenset({"websocket", "polling"})


def opens_a_session(environ):
    """An Engine.IO request that would open a new session: parsed, then checked
    as python-engineio will check it (``GET``, ``EIO=4``, a known transport, no
    ``sid``), so that only those wait for admission. A request that names a
    ``sid`` goes to its session (or is refused by engineio), as does one that
    engineio will refuse anyway: neither may take a join slot. (A substring
    test for ``sid=`` let ``&x=sid=`` bypass the session cap and the slots.)"""
    if not environ.get("PATH_INFO", "").startswith("/socket.io"):
        return False
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    return (
        environ.get("REQUEST_METHOD") == "GET"
        and not query.get("sid", [""])[0]  # engineio takes an empty sid for none
        and query.get("EIO") == ["4"]
        and query.get("transport", [""])[0] in ENGINEIO_TRANSPORTS
    )


def is_jsonp(environ):
    """An Engine.IO request (``/socket.io/``) that asks for a JSONP answer."""
    query = environ.get("QUERY_STRING", "")
    return (
        "j=" in query
        and environ.get("PATH_INFO", "").startswith("/socket.io")
        and "j" in parse_qs(query)
    )


def direct_call(app):
    """What to call to run ``app`` without a C-level frame (point 3 above)."""
    if isinstance(app, types.FunctionType | types.MethodType):
        return app
    method = app.__call__
    # A class's own Python __call__, bound; a builtin's is a C wrapper: no gain.
    return method if isinstance(method, types.MethodType) else app


def websocket_middleware(app, async_mode="eventlet", allow_compression=None, admit_session=None):
    """``app`` behind the rules of this module's docstring; ``admit_session(environ)``
    says whether the worker takes a new session (rule 6; it may wait)."""
    if allow_compression is None:
        allow_compression = settings.WS_COMPRESSION
    hand_over_socket = async_mode == "eventlet"
    call_app = direct_call(app)

    def middleware(environ, start_response):
        if is_jsonp(environ):
            start_response("400 Bad Request", [("Content-Type", "application/json")])
            return [JSONP_REFUSED]
        if admit_session is not None and opens_a_session(environ) and not admit_session(environ):
            headers = [("Content-Type", "application/json"), ("Retry-After", str(retry_after()))]
            start_response("503 Service Unavailable", headers)
            return [BUSY]
        if environ.get("HTTP_UPGRADE", "").lower() == "websocket":
            environ["wsgi.errors"] = WEBSOCKET_ERRORS
        if not allow_compression:
            environ.pop(EXTENSIONS_KEY, None)
        if hand_over_socket and "gunicorn.socket" in environ:
            socket = environ.pop("gunicorn.socket")
            environ.setdefault("eventlet.input", SocketInput(socket))
        return call_app(environ, start_response)

    return middleware
