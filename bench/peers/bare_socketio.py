"""The floor: the chat's events on bare python-socketio + eventlet, no Django.

    cd bench/peers && BENCH_SESSIONS=/abs/sessions.json BENCH_ROOMS=100 \
        gunicorn -k eventlet -w 1 --worker-connections 11000 -b 127.0.0.1:8001 bare_socketio:app

Same event API and the same server options as chat/events.py and d09/runtime/app.py (ping 10/10,
64 KB maxPayload, websocket+polling), the same checks in spirit, but every
lookup is a dict: the session cookie maps to a user through the sessions file
written by bench/prepare.py, messages get an id from a counter and the last 3
per room are kept in memory for the joiner's history. Whatever our server costs
above this is Django, the database and our own handlers.

A client that reconnects with ``"after": id`` gets the messages newer than it
(the last 100 of the room are kept), as ours does; ids are milliseconds since
the epoch at start-up, counted up, so that they keep increasing across a
restart (the restart-storm scenario; everything older is lost with the process).

``BARE_PRESENCE=versions`` switches the user list to the protocol of issue 16
(the joiner alone gets ``["users", names, {"version": v}]``, the room gets
``joined``/``left`` ``{"user", "version"}``, the client event ``users`` answers
``{"ok", "users", "version"}``): the floor for that protocol, and a check of the
generator's version handling. ``BARE_SKIP_DELTA=0.05`` then keeps each
``joined``/``left`` from one random member of the room with that probability, so
that the generator's gap requests are exercised.
"""

import itertools
import json
import os
import random
import time
from collections import defaultdict, deque
from datetime import UTC, datetime
from http.cookies import CookieError, SimpleCookie

import socketio

SESSIONS = {
    entry["cookie"].split("=", 1)[1]: entry["user"]
    for entry in json.load(open(os.environ["BENCH_SESSIONS"]))  # noqa: SIM115
}
ROOMS = {f"bench-{r}" for r in range(int(os.environ.get("BENCH_ROOMS", "100")))}
MAX_LENGTH = 2000
VERSIONS = os.environ.get("BARE_PRESENCE", "") == "versions"
SKIP_DELTA = float(os.environ.get("BARE_SKIP_DELTA", "0") or 0)

sio = socketio.Server(
    async_mode="eventlet",
    ping_interval=10,
    ping_timeout=10,
    max_http_buffer_size=64 * 1024,
    transports=["websocket", "polling"],
    cors_allowed_origins="*",
)
app = socketio.WSGIApp(sio)

ids = itertools.count(time.time_ns() // 1_000_000)
recent = defaultdict(lambda: deque(maxlen=100))  # room -> last messages
who = {}  # sid -> (room, user)
counts = defaultdict(lambda: defaultdict(int))  # room -> user -> connections
versions = defaultdict(int)  # room -> presence version (BARE_PRESENCE=versions)
sids = defaultdict(set)  # room -> sids (only for BARE_SKIP_DELTA)


def _user(environ):
    try:
        morsel = SimpleCookie(environ.get("HTTP_COOKIE", "")).get("sessionid")
    except CookieError:
        return None
    return SESSIONS.get(morsel.value) if morsel else None


def _users(room):
    return sorted(counts[room])


def _history(room, after):
    if isinstance(after, int) and not isinstance(after, bool):
        return [m for m in recent[room] if m["id"] > after]
    return list(recent[room])[-3:]


def _delta(event, room, user, skip):
    """BARE_PRESENCE=versions: one change of the list, with its version."""
    versions[room] += 1
    skipped = [skip] if skip else []
    if SKIP_DELTA and random.random() < SKIP_DELTA:
        others = list(sids[room] - set(skipped))
        if others:
            skipped.append(random.choice(others))
    data = {"user": user, "version": versions[room]}
    sio.emit(event, data, to=room, skip_sid=skipped or None)


@sio.event
def connect(sid, environ, auth=None):
    user = _user(environ)
    if user is None:
        raise socketio.exceptions.ConnectionRefusedError("You are not logged in.")
    room = auth.get("room") if isinstance(auth, dict) else None
    if room not in ROOMS:
        raise socketio.exceptions.ConnectionRefusedError("There is no such chat room.")
    sio.save_session(sid, {"room": room, "user": user})
    sio.enter_room(sid, room)
    who[sid] = (room, user)
    counts[room][user] += 1
    changed = counts[room][user] == 1
    sio.emit("history", _history(room, auth.get("after")), to=sid)
    if VERSIONS:
        sids[room].add(sid)
        if changed:
            _delta("joined", room, user, skip=sid)
        sio.emit("users", (_users(room), {"version": versions[room]}), to=sid)
        return
    sio.emit("joined", {"user": user}, to=room if changed else sid)
    sio.emit("users", _users(room), to=room if changed else sid)


@sio.event
def disconnect(sid, reason=None):
    room, user = who.pop(sid, (None, None))
    if room is None:
        return
    sids[room].discard(sid)
    counts[room][user] -= 1
    if counts[room][user] == 0:
        del counts[room][user]
        if VERSIONS:
            _delta("left", room, user, skip=sid)
            return
        sio.emit("left", {"user": user}, to=room, skip_sid=sid)
        sio.emit("users", _users(room), to=room, skip_sid=sid)


@sio.on("users")
def users(sid, *args):
    """BARE_PRESENCE=versions: the list and its version, on request."""
    room, _user = who.get(sid, (None, None))
    if room is None or not VERSIONS:
        return {"ok": False, "error": "Unknown event 'users'."}
    return {"ok": True, "users": _users(room), "version": versions[room]}


@sio.event
def message(sid, payload=None):
    session = sio.get_session(sid)
    text = payload.get("text") if isinstance(payload, dict) else None
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_LENGTH:
        return {"ok": False, "error": "Bad message."}
    stored = {
        "id": next(ids),
        "room": session["room"],
        "user": session["user"],
        "text": text.strip(),
        "created": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }
    recent[session["room"]].append(stored)
    sio.emit("message", stored, to=session["room"])
    return {"ok": True, "id": stored["id"]}
