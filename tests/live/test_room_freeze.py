"""A room must never freeze: clients that go silent together, or after bad frames.

Issue 11, item 1. A silent client (laptop lid closed, train tunnel) keeps its TCP
connection but answers no ping. python-engineio notices a timed-out client when
it next sends to it, and closes it right there, inside that send: if the send is a
room broadcast made under the room lock, the disconnect handler used to run
nested inside it and wait for the lock its own green thread held, for ever.
"""

import time

import pytest

from tests.support.raw import RawSocket
from tests.support.server import DEMO_PASSWORD, login, wait_until
from tests.support.sio import connected

pytestmark = pytest.mark.server

PING_INTERVAL = 1
PING_TIMEOUT = 1
# python-engineio's service task visits every socket once per ping timeout.
LEAVE_WINDOW = PING_INTERVAL + PING_TIMEOUT + PING_TIMEOUT + 3  # + slack for a busy CI


@pytest.fixture(scope="module")
def quick_ping_server(module_servers):
    live = module_servers.start(
        SIO_PING_INTERVAL=str(PING_INTERVAL), SIO_PING_TIMEOUT=str(PING_TIMEOUT)
    )
    live.create_users([f"silent{i}" for i in range(5)], DEMO_PASSWORD)
    return live


def go_silent(server, usernames, room, frame=None):
    """Raw clients that join ``room``, optionally send ``frame``, then never read
    again: their pings go unanswered while their TCP connections stay open."""
    # Logged in first, so that they join together (their first pings then come
    # within half a ping interval of each other: d09.runtime.ping_spread).
    cookies = [login(server.url, name, DEMO_PASSWORD).cookie for name in usernames]
    sockets = []
    for cookie in cookies:
        raw = RawSocket(server.url, cookie=cookie)
        raw.connect_namespace({"room": room})
        sockets.append(raw)
    for raw in sockets:
        if isinstance(frame, bytes):
            raw.ws.send_binary(frame)
        elif frame is not None:
            raw.send(frame)
    return sockets


def assert_room_recovers(server, watcher, room, silent_names):
    """The silent users leave the list in time; then a join and a message are
    answered within 2 s each."""
    wait_until(
        lambda: not set(silent_names) & set(watcher.users() or []),
        timeout=LEAVE_WINDOW,
        message=f"{silent_names} leaving the list",
    )
    started = time.monotonic()
    newcomer = connected(server.url, login(server.url, "bob", DEMO_PASSWORD), room)
    try:
        assert time.monotonic() - started < 2 + 1.5  # the login's password hash included
        answer = newcomer.send("the room still works", timeout=2)
        assert answer["ok"], answer
        watcher.wait_for("message", lambda m: m["id"] == answer["id"], timeout=2)
    finally:
        newcomer.close()


@pytest.mark.parametrize("count", [2, 5])
def test_silent_clients_do_not_freeze_their_room(quick_ping_server, count):
    room = quick_ping_server.create_room(f"Freeze {count}", f"freeze-{count}")
    names = [f"silent{i}" for i in range(count)]
    watcher = connected(
        quick_ping_server.url, login(quick_ping_server.url, "alice", DEMO_PASSWORD), room
    )
    sockets = go_silent(quick_ping_server, names, room)
    try:
        watcher.wait_users(sorted(["alice", *names]))
        assert_room_recovers(quick_ping_server, watcher, room, names)
    finally:
        watcher.close()
        for raw in sockets:
            raw.close()


BAD_FRAMES = ["", "abc", "42[]", "42{}", b"\x00\x01binary"]


@pytest.mark.parametrize("frame", BAD_FRAMES, ids=repr)
def test_silent_clients_after_malformed_frames_do_not_freeze_their_room(quick_ping_server, frame):
    slug = "freeze-frame-" + str(BAD_FRAMES.index(frame))
    room = quick_ping_server.create_room(slug, slug)
    names = [f"silent{i}" for i in range(3)]
    watcher = connected(
        quick_ping_server.url, login(quick_ping_server.url, "alice", DEMO_PASSWORD), room
    )
    sockets = go_silent(quick_ping_server, names, room, frame=frame)
    try:
        assert_room_recovers(quick_ping_server, watcher, room, names)
    finally:
        watcher.close()
        for raw in sockets:
            raw.close()
