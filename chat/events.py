"""The chat's event API (README, "Event API"), one short handler per event.

Every handler takes the ``Chat`` it serves (the rooms, the connection registry,
the limits) and the connection's ``sid``, and states its rule over the plain
modules. ``ChatNamespace.trigger_event`` is the one way in: it runs each
handler on a fresh green-thread stack with a borrowed database connection, and
turns the known failures into what the client can read (an ack error, or a
refused connection). A new handler is a function here with ``@handles``.
"""

import logging
from dataclasses import dataclass, field

import socketio
from django.db import DatabaseError
from redis.exceptions import RedisError

from chat import messages
from chat.backends.base import LockReentered, RoomBusy
from chat.connection import admit
from chat.limits import RateLimiter, connection_limiter, message_limiter, wait_text
from chat.payloads import Refused, echo
from chat.rooms import Rooms
from chat.sessions import ConnectionRegistry
from d09.runtime.event_db import event_connections
from d09.runtime.fresh_stack import run_on_fresh_stack

logger = logging.getLogger(__name__)

UNAVAILABLE = "The chat is unavailable right now: reload the page in a moment."
BUSY = "The chat is busy, please try again."


@dataclass
class Chat:
    """What the handlers work with, one per server process."""

    rooms: Rooms
    registry: ConnectionRegistry
    message_limit: RateLimiter = field(default_factory=message_limiter)
    connect_limit: RateLimiter = field(default_factory=connection_limiter)

    def member(self, sid):
        """Who connection ``sid`` is; Refused once its disconnect is under way."""
        member = self.registry.member(sid)
        if member is None:
            raise Refused("Not connected to a chat room.")
        return member


@dataclass(frozen=True)
class Handler:
    function: object
    database_error: str  # the ack error when the database fails


HANDLERS = {}


def handles(event, database_error="The chat could not do that right now, please try again."):
    """Register the decorated function as the handler of client event ``event``."""

    def register(function):
        HANDLERS[event] = Handler(function, database_error)
        return function

    return register


def refuse_if_limited(limiter, key, refusal):
    """Spend one of ``key``'s tokens, or refuse with ``refusal`` naming the wait."""
    wait = limiter.take(key)
    if wait:
        raise Refused(refusal.format(wait=wait_text(wait)))


@handles("connect", database_error=UNAVAILABLE)
def connect(chat, sid, environ, auth=None):
    """Admit a logged-in user into a room: history, then the notices."""
    address = environ.get("REMOTE_ADDR", "")
    refuse_if_limited(
        chat.connect_limit, address, "Too many connection attempts: try again in {wait}."
    )
    member, after = admit(environ, auth)
    chat.rooms.join(sid, member, after)


@handles("disconnect")
def disconnect(chat, sid, reason=None):
    """Leave the room; it hears of it when that was the user's last connection."""
    chat.rooms.leave(sid, reason)


@handles("message", database_error="The message could not be saved, please try again.")
def message(chat, sid, *payload):
    """Store a line and send it to the whole room; ack ``{"ok": true, "id": id}``."""
    member = chat.member(sid)
    text = messages.clean_text(*payload)
    refuse_if_limited(
        chat.message_limit, member.user_id, "You are sending messages too fast: wait {wait}."
    )
    stored = chat.rooms.post(member, text)
    return {"ok": True, "id": stored["id"]}


class ChatNamespace(socketio.Namespace):
    """The namespace "/" of the chat: every event of every client comes
    through ``trigger_event`` (python-socketio's public hook for class-based
    namespaces) and goes to its handler above."""

    def __init__(self, chat, namespace="/"):
        super().__init__(namespace)
        self.chat = chat

    def trigger_event(self, event, *args):
        handler = HANDLERS.get(event)
        if handler is None:
            logger.info("unknown event %s from %s", echo(repr(event)), args[0] if args else "?")
            return {"ok": False, "error": f"Unknown event {echo(repr(event))}."}
        if self.server.async_mode == "eventlet":
            # On a fresh green-thread stack that the connection's reader switches
            # to and waits for: still one event after another, in the order sent,
            # but the handlers' deep stacks (the ORM) do not stay with every
            # connection for its whole life (d09/runtime/fresh_stack.py).
            return run_on_fresh_stack(self._run, handler, event, args)
        return self._run(handler, event, args)

    def _run(self, handler, event, args):
        with event_connections.connection_for_event():
            try:
                return handler.function(self.chat, *args)
            except Refused as refusal:
                logger.info("%s from %s refused: %s", event, args[0], refusal)
                return self._failed(event, str(refusal))
            except DatabaseError:
                logger.exception("database error in %s from %s", event, args[0])
                return self._failed(event, handler.database_error)
            except (RedisError, RoomBusy, LockReentered):
                logger.exception("Redis or a room lock failed in %s from %s", event, args[0])
                return self._failed(event, UNAVAILABLE if event == "connect" else BUSY)

    @staticmethod
    def _failed(event, error):
        if event == "connect":
            raise socketio.exceptions.ConnectionRefusedError(error)
        return {"ok": False, "error": error}
