"""Bad input, floods and ended sessions against the real server.

Each case checks what the user gets (a readable error) and that the server
stays healthy: the same user can still chat, and no ghost stays in the list.
"""

import json
import sqlite3
import time

import pytest
import websocket

from tests.support.raw import RawSocket
from tests.support.server import DEMO_PASSWORD, csrf_post, login, wait_until
from tests.support.sio import connected, refusal_of

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def tight_server(module_servers):
    """Short timers, so faults show within seconds."""
    return module_servers.start(
        SIO_PING_INTERVAL="1",
        SIO_PING_TIMEOUT="1",
        SIO_CONNECT_TIMEOUT="1",
        SESSION_RECHECK_SECONDS="1",
        SQLITE_TIMEOUT="1",
    )


@pytest.fixture
def on_tight(tight_server):
    opened = []

    def open_client(username, room="general"):
        logged_in = login(tight_server.url, username, DEMO_PASSWORD)
        client = connected(tight_server.url, logged_in, room)
        client.logged_in = logged_in
        opened.append(client)
        return client

    yield open_client
    for client in opened:
        client.close()


def closed_within(raw, timeout):
    """True once the server closes the raw socket (pings are answered meanwhile)."""
    raw.ws.settimeout(timeout)
    try:
        while True:
            frame = raw.ws.recv()
            if frame in ("", None):
                return True
            if frame == "2":
                raw.ws.send("3")
    except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError):
        return True
    except websocket.WebSocketTimeoutException:
        return False


def test_message_flood_gets_a_readable_error_then_recovers(servers):
    live = servers.start(MESSAGE_RATE_BURST="5", MESSAGE_RATE_PER_MINUTE="60")
    alice = connected(live.url, login(live.url, "alice", DEMO_PASSWORD), "random")
    answers = [alice.send(f"flood {i}") for i in range(7)]
    assert [a["ok"] for a in answers[:5]] == [True] * 5
    assert answers[5]["ok"] is False
    assert "too fast" in answers[5]["error"]
    # The bucket refills at one message a second: chatting resumes by itself.
    wait_until(lambda: alice.send("after a pause")["ok"], timeout=5, interval=0.5)
    alice.close()


def test_client_that_never_connects_the_namespace_is_dropped(tight_server):
    raw = RawSocket(tight_server.url)
    assert closed_within(raw, timeout=6)


def test_a_room_list_connection_is_not_dropped_as_never_connected(tight_server):
    """The room list connects the namespace /lobby alone: that is a connect."""
    alice = login(tight_server.url, "alice", DEMO_PASSWORD)
    raw = RawSocket(tight_server.url, cookie=alice.cookie)
    raw.send("40/lobby,{}")
    # Open for 4 s (SIO_CONNECT_TIMEOUT is 1 s), pings answered; a close raises.
    raw.ws.settimeout(0.5)
    until = time.monotonic() + 4
    while time.monotonic() < until:
        try:
            frame = raw.ws.recv()
        except websocket.WebSocketTimeoutException:
            continue
        assert frame not in ("", None), "closed"
        if frame == "2":
            raw.ws.send("3")
    raw.close()


def test_client_that_stops_answering_pings_leaves_the_list(tight_server, on_tight):
    watcher = on_tight("alice", "cats")
    bob = login(tight_server.url, "bob", DEMO_PASSWORD)
    raw = RawSocket(tight_server.url, cookie=bob.cookie)
    raw.connect_namespace({"room": "cats"})
    watcher.wait_users(["alice", "bob"])
    # bob's browser vanishes: the socket stays open but nothing answers pings.
    assert watcher.wait_for("left", timeout=8)["user"] == "bob"
    watcher.wait_users(["alice"])
    raw.close()


MALFORMED_FRAMES = [
    "",
    "abc",
    "4",
    "4abc",
    "42",
    "42{",
    '42{"a":1}',
    "42[]",
    "42[1,2]",
    '42["message"]',
    '42["message",{"text":"x"},1,2]',
    '4299999999999999999999["message",{}]',
    '40{"room":"general"}',  # a second namespace connect
    "9",
    "41",
    b"\x00\x01\x02binary",
]


@pytest.mark.parametrize("frame", MALFORMED_FRAMES, ids=repr)
def test_malformed_frames_leave_the_server_healthy(tight_server, on_tight, frame):
    watcher = on_tight("alice", "random")
    bob = login(tight_server.url, "bob", DEMO_PASSWORD)
    raw = RawSocket(tight_server.url, cookie=bob.cookie)
    raw.connect_namespace({"room": "random"})
    watcher.wait_users(["alice", "bob"])
    if isinstance(frame, bytes):
        raw.ws.send_binary(frame)
    else:
        raw.send(frame)
    # Whatever the server made of it, bob's session ends within the ping window
    # once his client is gone, and the room keeps working for everyone else.
    raw.ws.close()
    watcher.wait_users(["alice"], timeout=8)
    assert watcher.send(f"still fine after {frame!r}")["ok"]


def test_oversized_frame_closes_only_that_connection(tight_server, on_tight):
    watcher = on_tight("alice", "general")
    bob = login(tight_server.url, "bob", DEMO_PASSWORD)
    raw = RawSocket(tight_server.url, cookie=bob.cookie)
    raw.connect_namespace({"room": "general"})
    max_payload = raw.handshake["maxPayload"]
    raw.send("42" + json.dumps(["message", {"text": "x" * (max_payload + 10)}]))
    assert closed_within(raw, timeout=8)
    watcher.wait_users(["alice"], timeout=8)
    assert watcher.send("after the oversized frame")["ok"]


def test_logout_in_another_tab_closes_that_sessions_sockets(server, alice_session, clients):
    tab = clients.open(alice_session, "general")
    tab.wait_for("joined")
    assert csrf_post(alice_session.session, server.url, "/account/logout", {}).status_code == 200
    assert tab.wait_for("session_ended", timeout=5) == {"reason": "You logged out."}
    wait_until(lambda: not tab.sio.connected, timeout=5, message="socket closed")


def test_password_change_elsewhere_closes_the_sockets(tight_server, on_tight):
    carol = on_tight("carol", "cats")
    carol.wait_for("joined")
    tight_server.manage(
        "shell",
        "-c",
        "from django.contrib.auth.models import User; u = User.objects.get(username='carol'); "
        "u.set_password('a new password for carol'); u.save()",
    )
    reason = carol.wait_for("session_ended", timeout=8)["reason"]
    assert "session has ended" in reason
    wait_until(lambda: not carol.sio.connected, timeout=5, message="socket closed")
    # The old session cannot come back either.
    assert "not logged in" in refusal_of(tight_server.url, logged_in=carol.logged_in, room="cats")


def test_locked_database_gives_an_ack_error_and_loses_nothing(tight_server, on_tight):
    sender, reader = on_tight("alice", "general"), on_tight("bob", "general")
    db_path = tight_server.env["DATABASE_URL"].split("sqlite:///", 1)[1]
    lock = sqlite3.connect(db_path, isolation_level=None, timeout=5)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        answer = sender.send("written while the database is locked")
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert answer == {
        "ok": False,
        "error": "The message could not be saved, please try again.",
        "retry_after": 2,  # it passes by itself: the page sends it again (same id)
    }
    after = sender.send("written after the lock")
    assert after["ok"]
    reader.wait_for("message", lambda m: m["id"] == after["id"])
    texts = [m["text"] for m in reader.of("message")]
    assert "written while the database is locked" not in texts


def test_connection_attempts_per_address_are_limited(servers):
    live = servers.start(CONNECT_RATE_BURST="3", CONNECT_RATE_PER_MINUTE="6")
    bob = login(live.url, "bob", DEMO_PASSWORD)
    for _ in range(3):
        connected(live.url, bob, "general").close()
    reason = refusal_of(live.url, logged_in=bob, room="general")
    assert "Too many connection attempts: try again in" in reason
