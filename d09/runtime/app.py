"""Build the process's WSGI app: Django wrapped by the chat's Socket.IO server."""

import logging
import sys

import socketio

logger = logging.getLogger(__name__)


def detect_async_mode(configured=""):
    """``configured`` (SIO_ASYNC_MODE) if set; else gevent when gunicorn's gevent
    worker has patched the standard library, else eventlet."""
    if configured:
        return configured
    gevent_monkey = sys.modules.get("gevent.monkey")
    if gevent_monkey is not None and gevent_monkey.is_module_patched("socket"):
        return "gevent"
    return "eventlet"


def server_options(settings):
    """Engine.IO and Socket.IO options from the settings (README, environment)."""
    from chat.connection import origin_allowed

    return {
        "ping_interval": settings.SIO_PING_INTERVAL,
        "ping_timeout": settings.SIO_PING_TIMEOUT,
        # maxPayload: a chat line of MAX_MESSAGE_LENGTH characters, even fully
        # JSON-escaped, fits easily; anything bigger is abuse.
        "max_http_buffer_size": settings.SIO_MAX_PAYLOAD,
        "transports": settings.SIO_TRANSPORTS,
        "cors_allowed_origins": origin_allowed,
        "connect_timeout": settings.SIO_CONNECT_TIMEOUT,
        "max_queued_bytes": settings.SIO_MAX_QUEUED_BYTES,
    }


def create_server(async_mode, backend):
    """The chat's Socket.IO server over ``backend`` (chat.backends), handlers
    registered, background work not started yet; returns ``(server, chat)``."""
    from django.conf import settings

    from chat.events import Chat, ChatNamespace
    from chat.limits import frame_limiter
    from chat.lobby import NAMESPACE as LOBBY
    from chat.lobby import Lobby
    from chat.notify import watching
    from chat.notify.notifier import Notifier
    from chat.notify.push import push_sender
    from chat.rooms import Rooms
    from d09.runtime.room_index import IndexedManager
    from d09.runtime.server import ChatServer

    chat = Chat()
    server = ChatServer(
        frame_budget=frame_limiter(),
        admit_transport=chat.admit_transport,
        transport_closed=chat.transport_closed,
        async_mode=async_mode,
        # The embedded default has no manager of its own: python-socketio's,
        # with the index of each connection's rooms.
        client_manager=backend.manager or IndexedManager(),
        logger=False,
        engineio_logger=False,
        # A client's events are handled one after another, in the order it sent
        # them, by the green thread that reads its socket. python-socketio's
        # default starts a green thread per event: when a handler waits (for
        # PostgreSQL or Redis) a later message from the same sender can be
        # stored first (seen in the benchmark), and a flood becomes a pile of
        # green threads instead of a full socket buffer. Other clients are
        # never held up: each socket has its own reader.
        async_handlers=False,
        **server_options(settings),
    )
    chat.lobby = Lobby(server, backend.presence)
    chat.rooms = Rooms(server, backend, chat.registry, chat.lobby)
    server.chat = chat  # for the drain of a stopping worker (d09/runtime/drain.py)
    chat.notifier = Notifier(server, push_sender(server), watching.create(backend.presence))
    server.register_namespace(ChatNamespace(chat))
    server.register_namespace(ChatNamespace(chat, namespace=LOBBY))
    return server, chat


JOIN_SLOT = "d09.join_slot"


def session_gate(server, async_mode):
    """``admit_session(environ)`` for the middleware: whether the worker takes a
    new chat session (d09/runtime/capacity.py): not at its session cap, and a
    join slot free (waited for). A reconnect storm is admitted at the pace the
    worker serves it. Sets ``server.session_settled``, which gives the slot back."""
    from django.conf import settings

    from d09.runtime.capacity import JoinSlots, at_capacity

    slots = None
    if async_mode == "eventlet" and settings.JOINS_IN_FLIGHT > 0:
        slots = JoinSlots(settings.JOINS_IN_FLIGHT, wait=settings.JOIN_WAIT)

    def admit_session(environ):
        # Sessions waiting for a join slot hold connections of the pool too.
        waiting = slots.waiting() if slots is not None else 0
        if at_capacity(len(server.eio.sockets) + waiting):
            return False
        if slots is not None:
            token = slots.take()
            if token is None:
                return False
            environ[JOIN_SLOT] = token
        return True

    def session_settled(environ):
        token = environ.pop(JOIN_SLOT, None)
        if token is not None:
            slots.give_back(token)

    server.session_settled = session_settled
    return admit_session


def create_app(async_mode):
    """The WSGI app of one server process (gunicorn worker or direct start)."""
    from d09.runtime.green import make_psycopg2_green

    # Before Django opens any connection: a slow query must not stop the process.
    green_psycopg2 = make_psycopg2_green(async_mode)

    from django.core.wsgi import get_wsgi_application

    django_app = get_wsgi_application()

    from chat import background
    from chat.backends import load_backend
    from d09.runtime.event_db import event_connections
    from d09.runtime.gc_tuning import tune_gc
    from d09.runtime.websocket_middleware import websocket_middleware

    if async_mode == "eventlet":
        from d09.runtime.ws_mask import install

        if not install():
            logger.warning("eventlet's WebSocket unmasking has changed: left as it is")

    backend = load_backend()
    logger.info(
        "async mode %s, psycopg2 wait callback: %s, shared through %s",
        async_mode,
        green_psycopg2,
        "Redis" if backend.multi_process else "memory (one process)",
    )
    server, chat = create_server(async_mode, backend)
    # Runs in each worker: gunicorn loads the app after forking (no --preload).
    background.start(server, chat, backend)
    # SQLite: handlers borrow open connections; one stays open (event_db).
    event_connections.keep_one_open()
    # No permessage-deflate unless WS_COMPRESSION=1, no class defined per request
    # for gunicorn's socket, no C stack frame kept per connection (see the module).
    app = websocket_middleware(
        socketio.WSGIApp(server, django_app),
        async_mode=async_mode,
        admit_session=session_gate(server, async_mode),
    )
    # Log records without thread names: under eventlet, naming the current
    # thread creates and keeps a green Thread object for every connection that
    # logs (its green thread lives as long as the WebSocket).
    logging.logThreads = False
    # Last, once everything is loaded: freeze the start-up objects and make
    # garbage collections rare (their pauses stop every connection).
    tune_gc()
    return app, server, backend
