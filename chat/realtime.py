"""The Socket.IO server of the chat: thin handlers over chat.connection,
chat.messages, chat.presence, chat.limits and chat.sessions.

Event API (README, "Event API"): the client connects with the auth payload
``{"room": slug, "after"?: id}``, receives ``history``, ``joined`` and ``users``,
emits ``message`` ``{"text": str}`` with an ack, and receives ``message``,
``joined``, ``left`` and ``users`` as the room changes; ``session_ended``
``{"reason": str}`` comes just before the server closes a connection whose
Django session is over.
"""

import contextlib
import logging

import socketio
from django.contrib.auth import get_user_model, user_logged_out
from django.db import DatabaseError
from django.db.models.signals import post_delete, post_save
from redis.exceptions import RedisError
from socketio import packet

from chat import messages
from chat.connection import ConnectionRefused, admit, origin_allowed
from chat.deadlines import Deadlines
from chat.event_db import with_event_db_connection
from chat.limits import RateLimiter, wait_text
from chat.roomlocks import LockReentered, RoomBusy
from chat.sessions import ACCOUNT_GONE, ConnectionRegistry, ended_sessions
from chat.shared import shared_state
from d09.env import env_int, env_list
from d09.fresh_stack import run_on_fresh_stack

logger = logging.getLogger(__name__)

# Event names the client may not send: they belong to the protocol itself.
RESERVED_EVENTS = frozenset({"connect", "disconnect", "connect_error"})


class ChatServer(socketio.Server):
    """socketio.Server with the guards python-socketio leaves to applications.

    - A client event named "connect"/"disconnect" (or not named by a string)
      would otherwise reach the handler of that name: it is refused.
    - An undecodable Socket.IO packet closes that connection.
    - A client that opens an Engine.IO session but never connects to the
      namespace would be kept for as long as it answers pings: it is dropped
      after ``connect_timeout`` seconds.
    - python-engineio runs the disconnect of a client wherever it finds the
      client gone, including inside a send to it: inside another handler's
      room broadcast, under that room's lock. The disconnect handler then waited
      for the lock its own green thread held, and the room froze for good
      (issue 11). Disconnects found by engineio are handled on a green thread
      of their own, after whatever found them has finished.
    - A connection whose socket closed while its connect handler was still
      running (python-socketio skips the disconnect of a half-connected client)
      is disconnected once the connect is through, so it leaves no ghost.
    """

    def __init__(self, *args, connect_timeout=10, **kwargs):
        super().__init__(*args, **kwargs)
        self.connect_timeout = connect_timeout
        self.connect_deadlines = Deadlines(connect_timeout) if connect_timeout > 0 else None
        self._deadline_sweeper = None

    def _handle_event(self, eio_sid, namespace, id, data):
        event = data[0] if isinstance(data, list) and data else None
        if not isinstance(event, str) or event in RESERVED_EVENTS:
            logger.warning("refused client event %r from %s", event, eio_sid)
            if id is not None and self.manager.sid_from_eio_sid(eio_sid, namespace or "/"):
                error = {"ok": False, "error": "This event name is not allowed."}
                reply = self.packet_class(packet.ACK, namespace=namespace, id=id, data=[error])
                self._send_packet(eio_sid, reply)
            return
        super()._handle_event(eio_sid, namespace, id, data)

    def _handle_eio_message(self, eio_sid, data):
        # python-socketio logs a traceback for every undecodable packet and keeps
        # the connection; a client that sends garbage is broken: say so in one
        # line and close it, so that it reconnects cleanly or goes away.
        try:
            return super()._handle_eio_message(eio_sid, data)
        except (ValueError, TypeError, KeyError, IndexError) as error:
            logger.warning("malformed packet from %s (%s): closing it", eio_sid, error)
            self.eio.disconnect(eio_sid)

    def _trigger_event(self, event, namespace, *args):
        # On a fresh green-thread stack that the connection's reader switches to
        # and waits for: still one event after another, in the order sent, but the
        # handlers' deep stacks (the ORM) do not stay with every connection for
        # its whole life (d09/fresh_stack.py).
        if self.eio.async_mode != "eventlet":
            return super()._trigger_event(event, namespace, *args)
        return run_on_fresh_stack(super()._trigger_event, event, namespace, *args)

    def _handle_eio_disconnect(self, eio_sid, reason):
        self.start_background_task(super()._handle_eio_disconnect, eio_sid, reason)

    def _handle_connect(self, eio_sid, namespace, data):
        super()._handle_connect(eio_sid, namespace, data)
        socket = self.eio.sockets.get(eio_sid)
        if socket is None or socket.closed or socket.closing:
            sid = self.manager.sid_from_eio_sid(eio_sid, namespace or "/")
            if sid is not None and self.manager.is_connected(sid, namespace or "/"):
                logger.info("%s closed while it connected: disconnecting it", eio_sid)
                self._handle_eio_disconnect(eio_sid, self.reason.TRANSPORT_CLOSE)

    def _handle_eio_connect(self, eio_sid, environ):
        result = super()._handle_eio_connect(eio_sid, environ)
        if self.connect_deadlines is not None:
            self.connect_deadlines.add(eio_sid)
            if self._deadline_sweeper is None:  # started in the worker, on first use
                self._deadline_sweeper = self.start_background_task(self._sweep_forever)
        return result

    def _sweep_forever(self):
        while True:
            self.sleep(self.connect_deadlines.seconds_to_next())
            for eio_sid in self.connect_deadlines.due():
                try:
                    self._drop_if_never_connected(eio_sid)
                except Exception:  # one broken socket must not stop the sweeper
                    logger.exception("could not drop %s", eio_sid)

    def _drop_if_never_connected(self, eio_sid):
        if eio_sid in self.environ and self.manager.sid_from_eio_sid(eio_sid, "/") is None:
            logger.info(
                "dropping %s: no namespace connect within %ss", eio_sid, self.connect_timeout
            )
            self.eio.disconnect(eio_sid)


def server_options(multi_process=False):
    """Engine.IO settings, overridable from the environment (README)."""
    # Long-polling needs every request of a session to reach the same process
    # (sticky sessions); a WebSocket is one connection to one process. So with
    # several processes the default is WebSocket only (the page uses nothing else).
    default_transports = "websocket" if multi_process else "websocket,polling"
    return {
        # The server pings every SIO_PING_INTERVAL seconds and drops a client that
        # does not answer within SIO_PING_TIMEOUT: a vanished browser leaves the
        # user list within their sum (20 s by default).
        "ping_interval": env_int("SIO_PING_INTERVAL", 10),
        "ping_timeout": env_int("SIO_PING_TIMEOUT", 10),
        # maxPayload: a chat line of MAX_MESSAGE_LENGTH characters, even fully
        # JSON-escaped, fits easily; anything bigger is abuse.
        "max_http_buffer_size": env_int("SIO_MAX_PAYLOAD", 64 * 1024),
        "transports": env_list("SIO_TRANSPORTS", default=default_transports),
        "cors_allowed_origins": origin_allowed,
        "connect_timeout": env_int("SIO_CONNECT_TIMEOUT", 10),
    }


def message_limiter():
    """Per user: MESSAGE_RATE_BURST lines at once, then MESSAGE_RATE_PER_SECOND."""
    return RateLimiter(
        burst=env_int("MESSAGE_RATE_BURST", 10),
        rate=env_int("MESSAGE_RATE_PER_MINUTE", 120) / 60,
    )


def connection_limiter():
    """Per client address: CONNECT_RATE_BURST attempts at once, then the rate."""
    return RateLimiter(
        burst=env_int("CONNECT_RATE_BURST", 30),
        rate=env_int("CONNECT_RATE_PER_MINUTE", 120) / 60,
    )


def create_server(async_mode="eventlet", shared=None):
    """The chat's Socket.IO server over ``shared`` (chat.shared.SharedState;
    default: one process, everything in memory)."""
    shared = shared or shared_state()
    sio = ChatServer(
        async_mode=async_mode,
        client_manager=shared.manager,
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
        **server_options(shared.multi_process),
    )
    registry = ConnectionRegistry()
    register_handlers(sio, shared.presence, shared.locks, registry)
    watch_sessions(sio, registry)
    return sio


def start_presence_upkeep(sio, shared):
    """Heartbeat and reap dead processes' users in the background, forever.

    With Redis, a process killed without cleaning up stops heartbeating; after
    PRESENCE_TTL (15 s) the next reap by any other process (every
    ``shared.upkeep_interval``, 5 s) removes its users and announces their leaving.
    """
    if not shared.multi_process:
        return None  # one process: nobody else can die with our users
    interval = shared.upkeep_interval

    def upkeep():
        while True:
            try:
                resync_after_reconnect(sio, shared.manager)
                announce(sio, shared, "joined", shared.presence.heartbeat())
                announce(sio, shared, "left", shared.presence.reap())
            except Exception:
                logger.exception("presence upkeep failed, retrying in %s s", interval)
            sio.sleep(interval)

    return sio.start_background_task(upkeep)


@with_event_db_connection
def resync_after_reconnect(sio, manager):
    """Deliver, to this process's clients, the messages that Redis pub/sub dropped
    while the subscription was down; pages skip ids they already show and keep
    messages in id order."""
    for room, newest in manager.take_resync().items():
        for message in messages.newer_in_room(room, newest):
            logger.info("resync: message %s to %s after a Redis reconnect", message["id"], room)
            sio.emit("message", message, to=room, ignore_queue=True)
            manager.last_delivered[room] = max(manager.last_delivered[room], message["id"])


def announce(sio, shared, event, changes):
    """Tell each room about changes that happened outside its handlers."""
    rooms = {}
    for change in changes:
        rooms.setdefault(change.room, []).append(change)
    for room, room_changes in rooms.items():
        with shared.locks.hold(room):
            for change in room_changes:
                if change.changed:
                    logger.info("%s: %s %s (presence upkeep)", room, change.user, event)
                    sio.emit(event, {"user": change.user}, to=room)
            sio.emit("users", shared.presence.users(room), to=room)


def register_handlers(sio, presence, locks, registry):
    message_limit = message_limiter()
    connect_limit = connection_limiter()

    def join(sid, member, after):
        """Under the room lock: nothing is broadcast to the room meanwhile."""
        # History first, straight to this process's socket, then into the room:
        # no message can arrive before the history, none falls in between. A
        # message still on its way through Redis may arrive after the history
        # that contains it: clients de-duplicate by id.
        backlog = messages.history(member.room_id, member.room_slug, after)
        sio.emit("history", backlog, to=sid, ignore_queue=True)
        sio.enter_room(sid, member.room_slug)
        registry.add(sid, member)
        change = presence.join(sid, member.room_slug, member.username)
        logger.info("%s joined %s (%s)", member.username, member.room_slug, sid)
        try:
            announce_join(sid, member, change.changed)
        except RedisError:
            # The connection is refused: it must not stay in the user list.
            registry.remove(sid)
            with contextlib.suppress(RedisError):
                presence.leave(sid)
            raise

    def announce_join(sid, member, changed):
        # The joiner's own order: history first, then the notice, then the list.
        notice = {"user": member.username}
        if changed:
            sio.emit("joined", notice, to=member.room_slug)
            sio.emit("users", presence.users(member.room_slug), to=member.room_slug)
        else:
            sio.emit("joined", notice, to=sid, ignore_queue=True)
            sio.emit("users", presence.users(member.room_slug), to=sid, ignore_queue=True)

    @sio.event
    @with_event_db_connection
    def connect(sid, environ, auth=None):
        try:
            wait = connect_limit.take(environ.get("REMOTE_ADDR", ""))
            if wait:
                raise ConnectionRefused(
                    f"Too many connection attempts: try again in {wait_text(wait)}."
                )
            member, after = admit(environ, auth)
            with locks.hold(member.room_slug):
                join(sid, member, after)
        except ConnectionRefused as refusal:
            logger.info("connection %s refused: %s", sid, refusal)
            raise socketio.exceptions.ConnectionRefusedError(str(refusal)) from None
        except (DatabaseError, RedisError, RoomBusy, LockReentered):
            logger.exception("database, Redis or room lock error while accepting %s", sid)
            raise socketio.exceptions.ConnectionRefusedError(
                "The chat is unavailable right now: reload the page in a moment."
            ) from None

    def leave(sid, reason):
        change = presence.leave(sid)
        if change is None:
            return
        logger.info("%s left %s (%s, %s)", change.user, change.room, sid, reason)
        if change.changed:
            sio.emit("left", {"user": change.user}, to=change.room, skip_sid=sid)
            sio.emit("users", presence.users(change.room), to=change.room, skip_sid=sid)

    @sio.event
    def disconnect(sid, reason=None):
        member = registry.remove(sid)
        if member is None:
            return
        try:
            with locks.hold(member.room_slug):
                leave(sid, reason)
                return
        except (RoomBusy, LockReentered):
            pass
        # A leave is never dropped: without the lock, only the order of this
        # room's broadcasts around it is not guaranteed (logged by the lock).
        leave(sid, reason)

    @sio.event
    @with_event_db_connection
    def message(sid, *args):
        member = registry.member(sid)
        if member is None:  # its disconnect is being handled
            return {"ok": False, "error": "Not connected to a chat room."}
        try:
            text = messages.clean_text(args[0] if args else None)
            wait = message_limit.take(member.user_id)
            if wait:
                raise messages.MessageRejected(
                    f"You are sending messages too fast: wait {wait_text(wait)}."
                )
            # Stored and broadcast under the room lock: the broadcasts of a room
            # leave in id order (chat.roomlocks). Stored first, broadcast second:
            # whatever reached anyone is in the database.
            with locks.hold(member.room_slug):
                stored = messages.store_message(member, text)
                sio.emit("message", stored, to=member.room_slug)
        except messages.MessageRejected as rejection:
            logger.info("message from %s refused: %s", member.username, rejection)
            return {"ok": False, "error": str(rejection)}
        except DatabaseError:
            logger.exception("could not store a message from %s", member.username)
            return {"ok": False, "error": "The message could not be saved, please try again."}
        except (RedisError, RoomBusy, LockReentered):
            logger.exception("Redis or the room lock failed: message from %s", member.username)
            return {"ok": False, "error": "The chat is busy, please try again."}
        return {"ok": True, "id": stored["id"]}

    @sio.on("*")
    def unknown_event(event, sid, *args):
        logger.info("unknown event %r from %s", event, sid)
        return {"ok": False, "error": f"Unknown event {event!r}."}


def end_connections(sio, sids, reason):
    """Tell each connection why, then end its Socket.IO session.

    The client closes the WebSocket itself on the DISCONNECT packet (the page's
    shim and python-socketio's client do). The WebSocket is not closed from
    here: closing a socket from another green thread than its reader left a
    stale reader in eventlet's hub, and the next connection to get that file
    descriptor (a PostgreSQL one, under psycopg2's wait callback) failed with
    "Second simultaneous read". A client that ignores the DISCONNECT keeps a
    bare Engine.IO session that can do nothing: no room, no events.
    """
    for sid in sids:
        logger.info("closing %s: %s", sid, reason)
        # Straight to the local socket: through Redis it could arrive after the close.
        sio.emit("session_ended", {"reason": reason}, to=sid, ignore_queue=True)
        sio.disconnect(sid)


def watch_sessions(sio, registry):
    """Close chat connections whose Django session ends.

    In this process at once (logout, password change, deactivation or deletion
    of the user, seen through Django's signals); and every SESSION_RECHECK_SECONDS
    for the rest (expiry, or a logout handled by another worker).
    """
    User = get_user_model()

    def on_logout(sender, request, user, **kwargs):
        key = getattr(request.session, "session_key", None)
        if key:
            end_connections(sio, registry.sids_of_session(key), "You logged out.")

    def recheck_user(sender, instance, update_fields=None, **kwargs):
        if update_fields is not None and set(update_fields) <= {"last_login"}:
            return  # every login saves last_login: nothing to recheck
        ended = ended_sessions(registry.sessions_of_user(instance.pk))
        for key, reason in ended.items():
            end_connections(sio, registry.sids_of_session(key), reason)

    def on_user_deleted(sender, instance, **kwargs):
        end_connections(sio, registry.sids_of_user(instance.pk), ACCOUNT_GONE)

    # weak=False: the receivers are closures that nothing else keeps alive.
    user_logged_out.connect(on_logout, weak=False)
    post_save.connect(recheck_user, sender=User, weak=False)
    post_delete.connect(on_user_deleted, sender=User, weak=False)

    interval = env_int("SESSION_RECHECK_SECONDS", 30)
    if interval > 0:
        sio.start_background_task(recheck_forever, sio, registry, interval)


@with_event_db_connection
def recheck_sessions(sio, registry):
    sessions = registry.sessions()
    if not sessions:
        return
    for key, reason in ended_sessions(sessions).items():
        end_connections(sio, registry.sids_of_session(key), reason)


def recheck_forever(sio, registry, interval):
    while True:
        sio.sleep(interval)
        try:
            recheck_sessions(sio, registry)
        except Exception:  # keep watching whatever one round hit (DB down...)
            logger.exception("session recheck failed")
