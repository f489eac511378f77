"""The chat's event API (README, "Event API"), one short handler per event.

Every handler takes the ``Chat`` it serves (the rooms, the connection registry,
the limits) and the connection's ``sid``, and states its rule over the plain
modules. ``ChatNamespace.trigger_event`` is the one way in: it runs each
handler on a fresh green-thread stack with a borrowed database connection, and
turns the known failures into what the client can read (an ack error, or a
refused connection). A new handler is a function here with ``@handles``.
"""

import logging
import math
from collections import Counter
from dataclasses import dataclass, field

import socketio
from django.conf import settings
from django.db import DatabaseError
from redis.exceptions import RedisError

from chat import access, messages, moderation, reading, standing
from chat.attachments import parts, rules, store
from chat.backends.base import LockReentered, RoomBusy
from chat.connection import admit, admit_visitor
from chat.limits import (
    RateLimiter,
    address_limiter,
    answer_tokens,
    connection_limiter,
    history_limiter,
    history_worker_limiter,
    message_limiter,
    typing_limiter,
    wait_text,
)
from chat.lobby import NAMESPACE as LOBBY
from chat.lobby import Lobby
from chat.notify import levels, push
from chat.notify.notifier import Notifier
from chat.payloads import Refused, Schema, echo
from chat.rooms import Rooms
from chat.sessions import ACCOUNT_INACTIVE, NO_LONGER_MEMBER, ConnectionRegistry
from d09.client_address import address_group, client_address
from d09.runtime.event_db import event_connections
from d09.runtime.fresh_stack import run_on_fresh_stack

logger = logging.getLogger(__name__)

UNAVAILABLE = "The chat is unavailable right now: trying again in a moment."
BUSY = "The chat is busy, please try again."
TOO_MANY_CONNECTIONS = "Too many connection attempts: try again in {wait}."
TOO_FAST = "You are sending messages too fast: wait {wait}."
TOO_MANY_FILES = "You are sending files too fast: wait {wait}."
TOO_MANY_REQUESTS = "Too many requests for older messages or the user list: wait {wait}."
WORKER_BUSY = "The server is busy: ask again in {wait}."
WORKER = "worker"  # the one key of the worker-wide budget
RETRY_SOON = 2  # seconds: database or Redis trouble usually passes
PENDING_ADDRESS = "d09.pending_address"  # environ key: a session not logged in yet
EMPTY = Schema(not_an_object="Send an empty object: {}.")
VISIBILITY = Schema(
    not_an_object='Send {"visible": true | false}.',
    fields={"visible": lambda value: value if isinstance(value, bool) else _not_bool()},
)


def _not_bool():
    raise Refused('"visible" must be true or false.')


@dataclass
class Chat:
    """What the handlers work with, one per server process."""

    rooms: Rooms = None  # set once the server exists (d09.runtime.app)
    lobby: Lobby = None
    notifier: Notifier = None  # chat.notify.notifier: levels, notifications, pushes
    registry: ConnectionRegistry = field(default_factory=ConnectionRegistry)
    message_limit: RateLimiter = field(default_factory=message_limiter)
    typing_limit: RateLimiter = field(default_factory=typing_limiter)
    # Per user, not per connection: one user may hold 30 connections.
    history_limit: RateLimiter = field(default_factory=history_limiter)
    history_worker_limit: RateLimiter = field(default_factory=history_worker_limiter)
    connect_limit: RateLimiter = field(default_factory=connection_limiter)
    address_limit: RateLimiter = field(default_factory=address_limiter)
    pending: Counter = field(default_factory=Counter)  # address -> sessions not logged in yet
    upload_limit: RateLimiter = field(default_factory=rules.upload_limiter)

    def admit_transport(self, environ):
        """Whether a new Engine.IO session from this address may open.

        Limits per address hit everyone behind one NAT or proxy, so they count
        only what no user answers for: sessions open at once that have not
        logged in to a room yet (PENDING_SESSIONS_PER_ADDRESS), and sessions
        that ended without ever logging in (a token each, ``address_limit``).
        """
        address = address_group(client_address(environ))  # an IPv6 client: its /64
        if self.pending[address] >= settings.PENDING_SESSIONS_PER_ADDRESS:
            logger.warning("refused a session from %s: too many not logged in", address)
            return False
        if self.address_limit.exhausted(address):
            logger.warning("refused a session from %s: too many ended without a login", address)
            return False
        self.pending[address] += 1
        environ[PENDING_ADDRESS] = address
        return True

    def logged_in(self, environ):
        """The session's user is known: from now on it is that user's to limit."""
        self._settle(environ, charge=False)

    def transport_closed(self, environ):
        """The session ended; never logged in, it costs its address a token."""
        self._settle(environ, charge=True)

    def _settle(self, environ, charge):
        address = environ.pop(PENDING_ADDRESS, None)
        if address is None:
            return
        self.pending[address] -= 1
        if self.pending[address] <= 0:
            del self.pending[address]
        if charge:
            self.address_limit.take(address)

    def member(self, sid):
        """Who connection ``sid`` is; Refused once its disconnect is under way,
        or once its account is no longer active (chat.standing: every event
        checks it, as it happens; the connection itself ends within
        PERMISSION_RECHECK_SECONDS)."""
        member = self.registry.member(sid)
        if member is None:
            raise Refused("Not connected to a chat room.")
        if not standing.is_active(member.user_id):
            raise Refused(ACCOUNT_INACTIVE)
        if member.private and not access.is_member(member.user_id, member.room_id):
            raise Refused(NO_LONGER_MEMBER)
        return member


@dataclass(frozen=True)
class Handler:
    function: object
    database_error: str  # the ack error when the database fails


HANDLERS = {"/": {}, LOBBY: {}}  # namespace -> event -> Handler


def handles(
    event,
    namespace="/",
    database_error="The chat could not do that right now, please try again.",
):
    """Register the decorated function as the handler of ``event`` in ``namespace``."""

    def register(function):
        HANDLERS[namespace][event] = Handler(function, database_error)
        return function

    return register


def refuse_if_limited(limiter, key, refusal, hold_reader=False):
    """Spend one of ``key``'s tokens, or refuse with ``refusal`` naming the wait
    (a refusal that passes by itself: clients may retry after the wait).
    ``hold_reader``: the connection is not read again until the wait is over."""
    wait = limiter.take(key)
    if wait:
        # Built elsewhere and raised unnamed: a local naming it here would be
        # held by its own traceback, a reference cycle that only the garbage
        # collector frees (thousands a second from a flood of refused requests,
        # and collections that paused every room for 40-100 ms).
        raise limited(refusal, wait, hold_reader)


def limited(refusal, wait, hold_reader):
    """The refusal of a request over its limit, saying how long to wait."""
    refused = Refused(refusal.format(wait=wait_text(wait)), retry_after=math.ceil(wait))
    refused.hold_reader = hold_reader
    return refused


def spend_history_budget(chat, member):
    """A request whose answer costs the server (``older``, ``users``): within
    the user's budget over all their connections, and the worker's over all
    its users; refused otherwise, before anything is looked up or queued.

    A refused connection is not read again until its wait is over: a client
    that asks again at once (45 times a second, inside the frame budget) would
    otherwise cost the worker a refusal each time, and a hundred of them
    stalled every room (bench/README.md, "Clients that do not read")."""
    if chat.history_worker_limit.exhausted(WORKER):
        refuse_if_limited(chat.history_worker_limit, WORKER, WORKER_BUSY, hold_reader=True)
    refuse_if_limited(chat.history_limit, member.user_id, TOO_MANY_REQUESTS, hold_reader=True)
    chat.history_worker_limit.take(WORKER)


def charge_answer(chat, text_length, items):
    """The worker's budget pays for an answer by its weight: the token taken
    before it was looked up, and the rest now (chat.limits.answer_tokens)."""
    chat.history_worker_limit.charge(WORKER, answer_tokens(text_length, items) - 1)


def page_answer(chat, page, more):
    """The ack of a page of messages (``older``, ``newer``), paid for by its weight."""
    charge_answer(chat, sum(len(line.get("text") or "") for line in page), len(page))
    return {"ok": True, "messages": page, "more": more}


@handles("connect", database_error=UNAVAILABLE)
def connect(chat, sid, environ, auth=None):
    """Admit a logged-in user into a room: history, then the notices."""
    member, request = admit(environ, auth)
    chat.logged_in(environ)
    refuse_if_limited(chat.connect_limit, member.user_id, TOO_MANY_CONNECTIONS)
    chat.rooms.join(sid, member, request.after, request.since)
    chat.notifier.joined(sid, member)


@handles("connect", namespace=LOBBY, database_error=UNAVAILABLE)
def lobby_connect(chat, sid, environ, auth=None):
    """Open the room list: every room's counts now (``rooms``), changes later."""
    visitor = admit_visitor(environ)
    chat.logged_in(environ)
    refuse_if_limited(chat.connect_limit, visitor.user_id, TOO_MANY_CONNECTIONS)
    chat.registry.add(sid, visitor)
    chat.lobby.enter(sid, visitor)


@handles("disconnect", namespace=LOBBY)
def lobby_disconnect(chat, sid, reason=None):
    """Close the room list."""
    chat.registry.remove(sid)


@handles("disconnect")
def disconnect(chat, sid, reason=None):
    """Leave the room; it hears of it when that was the user's last connection."""
    chat.notifier.left(sid)
    chat.rooms.leave(sid, reason)


@handles("message", database_error="The message could not be saved, please try again.")
def message(chat, sid, *payload):
    """Store a line once and send it to the whole room; ack ``{"ok": true, "id": id}``
    (plus ``"duplicate": true`` when its ``client_message_id`` was sent before)."""
    member = chat.member(sid)
    fields = messages.clean_message(*payload)
    refuse_if_limited(chat.message_limit, member.user_id, TOO_FAST)
    message, stored = chat.rooms.post(member, fields["text"], fields["client_message_id"])
    if not stored:
        return {"ok": True, "id": message["id"], "duplicate": True}
    chat.notifier.posted(message)
    return {"ok": True, "id": message["id"]}


@handles("upload_start", database_error="The upload could not start, please try again.")
def upload_start(chat, sid, *payload):
    """Declare a file (``client_message_id``, ``name``, ``size``, ``type``, ``text``);
    ack ``{"ok", "offset", "chunk_size"}``: where to send from (0, or how far
    an upload under way got), or ``{"ok", "id", "duplicate": true}`` when that
    message is stored already."""
    member = chat.member(sid)
    request = rules.START.validate(*payload)
    cid = request["client_message_id"]
    first = messages.sent_before(member.user_id, cid)
    if first is not None:
        if first.room_id != member.room_id:
            raise Refused("This client_message_id was used in another room: make a new one.")
        return {"ok": True, "id": first.id, "duplicate": True}
    moderation.refuse_if_muted(member)
    declared = parts.Declaration(
        member.room_id, request["name"], request["size"], request["type"], request["text"]
    )
    if parts.declaration(member.user_id, cid) is None:
        # The quota first: a declaration it refuses spends none of the minute's files.
        rules.refuse_over_quota(member.user_id, declared.size)
        refuse_if_limited(chat.upload_limit, member.user_id, TOO_MANY_FILES)
    offset = parts.begin(member.user_id, cid, declared)
    return {"ok": True, "offset": offset, "chunk_size": rules.chunk_size()}


@handles("upload_chunk", database_error="The file could not be saved, please try again.")
def upload_chunk(chat, sid, *payload):
    """The bytes at ``offset`` (a binary attachment); ack ``{"ok", "offset"}``
    with the next offset expected; the last chunk stores the message and its
    file, and its ack has the message's ``id``."""
    member = chat.member(sid)
    request = rules.CHUNK.validate(*payload)
    cid = request["client_message_id"]
    declared, reached = parts.append(
        member.user_id, member.room_id, cid, request["offset"], request["data"]
    )
    if reached < declared.size:
        return {"ok": True, "offset": reached}
    fields = store.keep(member.user_id, cid, declared)
    try:
        message, stored = chat.rooms.post(member, declared.text, cid, attachment=fields)
    except Exception:
        store.forget(fields)
        raise
    if not stored:
        store.forget(fields)
    return {"ok": True, "offset": reached, "id": message["id"]}


@handles("upload_cancel")
def upload_cancel(chat, sid, *payload):
    """Give up an upload under way: what was received of it is deleted."""
    member = chat.member(sid)
    parts.discard(member.user_id, rules.CANCEL.validate(*payload)["client_message_id"])
    return {"ok": True}


@handles("edit", database_error="The message could not be saved, please try again.")
def edit(chat, sid, *payload):
    """Give one's own message a new text within MESSAGE_EDIT_MINUTES; ack like ``message``."""
    member = chat.member(sid)
    request = moderation.EDIT.validate(*payload)
    refuse_if_limited(chat.message_limit, member.user_id, TOO_FAST)
    updated = chat.rooms.edit(member, request["id"], request["text"])
    return {"ok": True, "id": updated["id"]}


@handles("delete")
def delete(chat, sid, *payload):
    """Delete one's own message (staff: any message); its text leaves every page."""
    member = chat.member(sid)
    gone = chat.rooms.delete(member, moderation.DELETE.validate(*payload)["id"])
    return {"ok": True, "id": gone["id"]}


@handles("typing")
def typing(chat, sid, *payload):
    """Tell the room that one types (or stopped): nothing is stored."""
    member = chat.member(sid)
    news = moderation.TYPING.validate(*payload)
    refuse_if_limited(chat.typing_limit, member.user_id, "Typing news too fast: wait {wait}.")
    chat.rooms.typing(member, news["typing"])
    return {"ok": True}


@handles("mute")
def mute(chat, sid, *payload):
    """Staff: keep a user from writing in this room for 5, 60 or 1440 minutes."""
    member = chat.member(sid)
    request = moderation.MUTE.validate(*payload)
    notice = chat.rooms.mute(member, request["user"], request["minutes"])
    return {"ok": True, "until": notice["until"]}


@handles("unmute")
def unmute(chat, sid, *payload):
    """Staff: let a muted user write in this room again."""
    member = chat.member(sid)
    chat.rooms.unmute(member, moderation.UNMUTE.validate(*payload)["user"])
    return {"ok": True}


@handles("users")
def users(chat, sid, *payload):
    """The room's whole user list and its version, for a client that missed a
    change (a ``joined``/``left`` version more than one above its own)."""
    member = chat.member(sid)
    EMPTY.validate(*payload)
    spend_history_budget(chat, member)
    names, version = chat.rooms.presence.snapshot(member.room_slug)
    charge_answer(chat, sum(map(len, names)), 0)
    return {"ok": True, "users": names, "version": version}


@handles("older")
def older(chat, sid, *payload):
    """A page of scroll-back: ``{"before": id, "limit": n}`` -> the ``limit``
    messages before ``id``, oldest first, and whether there are more."""
    member = chat.member(sid)
    request = reading.OLDER.validate(*payload)
    spend_history_budget(chat, member)
    page, more = reading.older(
        member.room_id, member.room_slug, request["before"], request["limit"]
    )
    return page_answer(chat, page, more)


@handles("notification_level")
def notification_level(chat, sid, *payload):
    """Choose what to be told of in this room: ``{"level": "all" | "mentions" |
    "none"}``; every tab of the user gets ``notification_level``."""
    member = chat.member(sid)
    level = levels.SET_LEVEL.validate(*payload)["level"]
    return {"ok": True, "level": chat.notifier.set_level(member, level)}


@handles("visibility")
def visibility(chat, sid, *payload):
    """The page's tab is visible or not (``{"visible": bool}``): no push of
    this room to the user while one of their tabs shows it."""
    member = chat.member(sid)
    visible = VISIBILITY.validate(*payload)["visible"]
    chat.notifier.visibility(sid, member, visible)
    return {"ok": True}


@handles("push_subscribe")
def push_subscribe(chat, sid, *payload):
    """Keep this browser's push subscription (``PushSubscription.toJSON()``)
    as a device of the user; ack ``{"ok": true, "device": id}``."""
    member = chat.member(sid)
    if chat.notifier.push is None:
        raise Refused(push.PUSH_OFF)
    subscription = push.SUBSCRIPTION.validate(*payload)
    device = push.subscribe(member.user_id, subscription, member_agent(chat, sid))
    return {"ok": True, "device": device.pk}


@handles("push_unsubscribe")
def push_unsubscribe(chat, sid, *payload):
    """Forget this browser's push subscription ``{"endpoint": url}``."""
    member = chat.member(sid)
    push.unsubscribe(member.user_id, push.UNSUBSCRIBE.validate(*payload)["endpoint"])
    return {"ok": True}


def member_agent(chat, sid):
    """The connection's User-Agent, to name the device on the account page."""
    environ = chat.rooms.server.get_environ(sid) or {}
    return str(environ.get("HTTP_USER_AGENT", ""))


@handles("newer")
def newer(chat, sid, *payload):
    """Going down from a message opened in context: ``{"after": id, "limit": n}``
    -> the ``limit`` messages after ``id``, oldest first, and whether there are more."""
    member = chat.member(sid)
    request = reading.NEWER.validate(*payload)
    spend_history_budget(chat, member)
    page, more = reading.newer(member.room_id, member.room_slug, request["after"], request["limit"])
    return page_answer(chat, page, more)


@handles("read")
def read(chat, sid, *payload):
    """The reader has seen the room up to ``{"id": id}``; the mark never moves back."""
    member = chat.member(sid)
    message_id = reading.READ.validate(*payload)["id"]
    reading.set_mark(member.user_id, member.room_id, message_id)
    chat.lobby.read(
        member.user_id, member.room_slug, reading.unread_count(member.user_id, member.room_id)
    )
    return {"ok": True}


class ChatNamespace(socketio.Namespace):
    """The namespace "/" of the chat: every event of every client comes
    through ``trigger_event`` (python-socketio's public hook for class-based
    namespaces) and goes to its handler above."""

    def __init__(self, chat, namespace="/"):
        super().__init__(namespace)
        self.chat = chat

    def trigger_event(self, event, *args):
        handler = HANDLERS[self.namespace].get(event)
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
                # The log gets its text: a log record that is kept (a test's capture)
                # must not keep the refusal alive, with every frame of its traceback.
                reason = str(refusal)
                logger.info("%s from %s refused: %s", event, args[0], reason)
                if getattr(refusal, "hold_reader", False):
                    self._hold_reader(args[0], refusal.retry_after)
                return self._failed(event, reason, refusal.retry_after, refusal.details)
            except DatabaseError:
                logger.exception("database error in %s from %s", event, args[0])
                return self._failed(event, handler.database_error, RETRY_SOON)
            except (RedisError, RoomBusy, LockReentered):
                logger.exception("Redis or a room lock failed in %s from %s", event, args[0])
                unavailable = UNAVAILABLE if event == "connect" else BUSY
                return self._failed(event, unavailable, RETRY_SOON)

    def _hold_reader(self, sid, seconds):
        eio_sid = self.server.manager.eio_sid_from_sid(sid, self.namespace)
        if eio_sid is not None:
            self.server.hold_reader(eio_sid, seconds)

    @staticmethod
    def _failed(event, error, retry_after=None, details=None):
        """What the client gets: an ack error, or for a connect a refusal that
        says when to retry if it passes by itself (``{"retry_after": s}``)."""
        if event != "connect":
            answer = {"ok": False, "error": error, **(details or {})}
            if retry_after is not None:
                # It passes by itself: a client may send the same again after that long.
                answer["retry_after"] = retry_after
            return answer
        if retry_after is None:
            raise socketio.exceptions.ConnectionRefusedError(error)
        raise socketio.exceptions.ConnectionRefusedError(error, {"retry_after": retry_after})
