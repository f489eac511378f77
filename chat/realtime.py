"""The Socket.IO server of the chat: thin handlers over chat.connection,
chat.messages and chat.presence.

Event API (README, "Event API"): the client connects with the auth payload
``{"room": slug, "after"?: id}``, receives ``history``, ``joined`` and ``users``,
emits ``message`` ``{"text": str}`` with an ack, and receives ``message``,
``joined``, ``left`` and ``users`` as the room changes.
"""

import contextlib
import functools
import logging

import socketio
from django.db import DatabaseError, close_old_connections, connections
from redis.exceptions import RedisError
from socketio import packet

from chat import messages
from chat.connection import ConnectionRefused, admit, origin_allowed
from chat.shared import shared_state
from d09.env import env_int, env_list

logger = logging.getLogger(__name__)

# Event names the client may not send: they belong to the protocol itself.
RESERVED_EVENTS = frozenset({"connect", "disconnect", "connect_error"})


def releases_db_connections(handler):
    """Close this green thread's DB connections when the handler is done.

    Under eventlet every handler runs in its own green thread and Django keeps
    one connection per thread, so without this their number would grow with the
    number of events.
    """

    @functools.wraps(handler)
    def wrapper(*args, **kwargs):
        close_old_connections()
        try:
            return handler(*args, **kwargs)
        finally:
            connections.close_all()

    return wrapper


class ChatServer(socketio.Server):
    """socketio.Server that refuses client events it must not dispatch.

    python-socketio hands any client event to the handler of the same name, so
    a client sending an event called "connect" would reach the connect handler.
    """

    def _handle_event(self, eio_sid, namespace, id, data):
        event = data[0] if data else None
        if not isinstance(event, str) or event in RESERVED_EVENTS:
            logger.warning("refused client event %r from %s", event, eio_sid)
            if id is not None:
                sid = self.manager.sid_from_eio_sid(eio_sid, namespace or "/")
                if sid is not None:
                    self._send_packet(
                        eio_sid,
                        self.packet_class(
                            packet.ACK,
                            namespace=namespace,
                            id=id,
                            data=[{"ok": False, "error": "This event name is not allowed."}],
                        ),
                    )
            return
        super()._handle_event(eio_sid, namespace, id, data)


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
    }


def create_server(async_mode="eventlet", shared=None):
    """The chat's Socket.IO server over ``shared`` (chat.shared.SharedState;
    default: one process, everything in memory)."""
    shared = shared or shared_state()
    sio = ChatServer(
        async_mode=async_mode,
        client_manager=shared.manager,
        logger=False,
        engineio_logger=False,
        **server_options(shared.multi_process),
    )
    register_handlers(sio, shared.presence, shared.locks)
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
                announce(sio, shared, "joined", shared.presence.heartbeat())
                announce(sio, shared, "left", shared.presence.reap())
            except Exception:
                logger.exception("presence upkeep failed, retrying in %s s", interval)
            sio.sleep(interval)

    return sio.start_background_task(upkeep)


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


def register_handlers(sio, presence, locks):
    def join(sid, member, after):
        """Under the room lock: nothing is broadcast to the room meanwhile."""
        # History first, straight to this process's socket, then into the room:
        # no message can arrive before the history, none falls in between. A
        # message still on its way through Redis may arrive after the history
        # that contains it: clients de-duplicate by id.
        backlog = messages.history(member.room_id, member.room_slug, after)
        sio.emit("history", backlog, to=sid, ignore_queue=True)
        sio.save_session(sid, {"member": member})
        sio.enter_room(sid, member.room_slug)
        change = presence.join(sid, member.room_slug, member.username)
        logger.info("%s joined %s (%s)", member.username, member.room_slug, sid)
        try:
            announce_join(sid, member, change.changed)
        except RedisError:
            # The connection is refused: it must not stay in the user list.
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
    @releases_db_connections
    def connect(sid, environ, auth=None):
        try:
            member, after = admit(environ, auth)
            with locks.hold(member.room_slug):
                join(sid, member, after)
        except ConnectionRefused as refusal:
            logger.info("connection %s refused: %s", sid, refusal)
            raise socketio.exceptions.ConnectionRefusedError(str(refusal)) from None
        except (DatabaseError, RedisError):
            logger.exception("database or Redis error while accepting %s", sid)
            raise socketio.exceptions.ConnectionRefusedError(
                "The chat is unavailable right now, retrying."
            ) from None

    @sio.event
    def disconnect(sid, reason=None):
        member = sio.get_session(sid).get("member")
        if member is None:
            return
        with locks.hold(member.room_slug):
            change = presence.leave(sid)
            if change is None:
                return
            logger.info("%s left %s (%s, %s)", change.user, change.room, sid, reason)
            if change.changed:
                sio.emit("left", {"user": change.user}, to=change.room, skip_sid=sid)
                sio.emit("users", presence.users(change.room), to=change.room, skip_sid=sid)

    @sio.event
    @releases_db_connections
    def message(sid, *args):
        member = sio.get_session(sid)["member"]
        try:
            text = messages.clean_text(args[0] if args else None)
            # Stored and broadcast under the room lock: the broadcasts of a room
            # leave in id order (chat.roomlocks). Stored first, broadcast second:
            # whatever reached anyone is in the database.
            with locks.hold(member.room_slug):
                stored = messages.store_message(member, text)
                sio.emit("message", stored, to=member.room_slug)
        except messages.MessageRejected as rejection:
            return {"ok": False, "error": str(rejection)}
        except DatabaseError:
            logger.exception("could not store a message from %s", member.username)
            return {"ok": False, "error": "The message could not be saved, please try again."}
        except RedisError:
            logger.exception("Redis failed while %s sent a message", member.username)
            return {"ok": False, "error": "The chat is busy, please try again."}
        return {"ok": True, "id": stored["id"]}

    @sio.on("*")
    def unknown_event(event, sid, *args):
        logger.info("unknown event %r from %s", event, sid)
        return {"ok": False, "error": f"Unknown event {event!r}."}
