"""The event API with a standard Socket.IO client against the real server."""

import json

import pytest
import websocket

from chat.messages import MAX_MESSAGE_LENGTH
from tests.support.raw import RawSocket
from tests.support.server import DEMO_PASSWORD, login, wait_until
from tests.support.sio import refusal_of

pytestmark = pytest.mark.server


def test_anonymous_connection_is_refused(server):
    assert "not logged in" in refusal_of(server.url, auth={"room": "general"})


def test_unknown_room_is_refused(server, alice_session):
    assert "no chat room" in refusal_of(server.url, logged_in=alice_session, room="no-such-room")


@pytest.mark.parametrize("auth", [{}, {"room": 5}, {"room": "general", "after": "x"}])
def test_malformed_auth_is_refused(server, alice_session, auth):
    assert refusal_of(server.url, logged_in=alice_session, auth=auth)


def test_foreign_origin_is_refused_and_own_origin_accepted(server, alice_session, clients):
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        RawSocket(server.url, cookie=alice_session.cookie, origin="http://evil.example")
    assert refused.value.status_code == 400
    own = RawSocket(server.url, cookie=alice_session.cookie, origin=server.url)
    frames = own.connect_namespace({"room": "general"})
    assert frames[-1].startswith("40{")
    own.close()


def test_joiner_gets_history_then_own_join_notice_and_user_list(
    server, alice_session, clients, fresh_room
):
    client = clients.open(alice_session, fresh_room)
    assert client.wait_for("history") == []
    assert client.wait_for("joined")["user"] == "alice"
    client.wait_users(["alice"])


def test_history_is_the_last_three_messages_oldest_first(
    server, alice_session, bob_session, clients, fresh_room
):
    writer = clients.open(alice_session, fresh_room)
    acks = [writer.send(f"history {i}") for i in range(5)]
    assert all(ack["ok"] for ack in acks)
    ids = [ack["id"] for ack in acks]

    late = clients.open(bob_session, fresh_room)
    history = late.wait_for("history")
    assert [m["id"] for m in history] == ids[-3:]
    assert [m["text"] for m in history] == ["history 2", "history 3", "history 4"]
    assert {m["user"] for m in history} == {"alice"}
    assert {m["room"] for m in history} == {fresh_room}
    assert all(m["created"].endswith("Z") for m in history)


def test_after_fills_the_gap_for_a_reconnecting_page(server, alice_session, clients, fresh_room):
    writer = clients.open(alice_session, fresh_room)
    ids = [writer.send(f"gap {i}")["id"] for i in range(6)]
    again = clients.open(alice_session, fresh_room, after=ids[1])
    assert [m["id"] for m in again.wait_for("history")] == ids[2:]


def test_broadcast_reaches_the_room_and_not_other_rooms(
    server, alice_session, bob_session, carol_session, clients
):
    in_general = [clients.open(alice_session, "general"), clients.open(bob_session, "general")]
    in_cats = clients.open(carol_session, "cats")
    ack = in_general[0].send("for general only")
    assert ack["ok"]
    for client in in_general:
        message = client.wait_for("message", lambda m: m["id"] == ack["id"])
        assert message["user"] == "alice"
        assert message["text"] == "for general only"
        assert message["room"] == "general"
    # Once carol sees her own later message, alice's would have arrived before it.
    own = in_cats.send("for cats only")
    in_cats.wait_for("message", lambda m: m["id"] == own["id"])
    assert all(m["id"] != ack["id"] for m in in_cats.of("message"))
    assert all(m["id"] != own["id"] for m in in_general[1].of("message"))


def test_join_and_leave_with_two_tabs_of_one_user(
    server, alice_session, bob_session, clients, fresh_room
):
    watcher = clients.open(alice_session, fresh_room)
    watcher.wait_users(["alice"])

    bob_tab1 = clients.open(bob_session, fresh_room)
    watcher.wait_for("joined", lambda d: d["user"] == "bob")
    watcher.wait_users(["alice", "bob"])

    bob_tab2 = clients.open(bob_session, fresh_room)
    assert bob_tab2.wait_for("joined")["user"] == "bob"  # told to the tab itself
    bob_tab2.wait_users(["alice", "bob"])
    bob_tab1.close()
    # bob is still there through his second tab: a marker message proves that
    # anything sent before it has been delivered.
    marker = watcher.send("marker after bob's first tab closed")
    watcher.wait_for("message", lambda m: m["id"] == marker["id"])
    assert watcher.who("joined").count("bob") == 1
    assert watcher.of("left") == []
    assert watcher.users() == ["alice", "bob"]

    bob_tab2.close()
    assert watcher.wait_for("left")["user"] == "bob"
    watcher.wait_users(["alice"])
    assert watcher.who("left") == ["bob"]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({}, "must be a string"),
        ({"text": ""}, "empty"),
        ({"text": "   "}, "empty"),
        ({"text": 12}, "must be a string"),
        ("just a string", "must be an object"),
        ({"text": "x" * (MAX_MESSAGE_LENGTH + 1)}, "too long"),
        ({"text": "ok", "extra": 1}, "Unexpected field"),
    ],
)
def test_bad_messages_get_an_ack_error_and_are_not_stored(
    server, alice_session, clients, fresh_room, payload, reason
):
    client = clients.open(alice_session, fresh_room)
    answer = client.call(payload)
    assert answer["ok"] is False
    assert reason in answer["error"]
    # Nothing was stored: a new joiner's history is still empty.
    assert clients.open(alice_session, fresh_room).wait_for("history") == []


def test_unknown_event_gets_an_ack_error(server, alice_session, clients):
    client = clients.open(alice_session, "general")
    answer = client.sio.call("shout", {"text": "x"}, timeout=10)
    assert answer == {"ok": False, "error": "Unknown event 'shout'."}
    assert client.sio.connected


@pytest.mark.parametrize("event", ["connect", "disconnect"])
def test_reserved_event_names_from_a_client_are_refused(server, alice_session, event):
    raw = RawSocket(server.url, cookie=alice_session.cookie)
    raw.connect_namespace({"room": "general"})
    raw.send(f'4217["{event}",{{"HTTP_COOKIE":"x"}}]')
    answer = next(f for f in iter(raw.recv, None) if f.startswith("4317"))
    assert json.loads(answer[4:]) == [{"ok": False, "error": "This event name is not allowed."}]
    raw.send('4218["message",{"text":"still connected"}]')
    assert next(f for f in iter(raw.recv, None) if f.startswith("4318"))
    raw.close()


def test_unicode_round_trips_exactly(server, alice_session, clients, fresh_room):
    client = clients.open(alice_session, fresh_room)
    text = "é 漢字 🐱 שלום e\u0301 \"quotes\" 'single' <b>&amp;</b>\nsecond line"
    ack = client.send(text)
    assert client.wait_for("message", lambda m: m["id"] == ack["id"])["text"] == text


def test_db_connections_stay_bounded(server, alice_session, clients, fresh_room):
    client = clients.open(alice_session, fresh_room)
    # What the worker holds at rest (the SQLite keeper, a page request's thread).
    baseline = server.db_file_handles()
    for i in range(60):
        assert client.send(f"burst {i}")["ok"]
        client.sio.call("unknown-event", {}, timeout=10)
    for _ in range(10):
        clients.open(alice_session, fresh_room).close()
    # Every handler closes its connection: none is left open once they are done.
    wait_until(
        lambda: server.db_file_handles() <= baseline, timeout=10, message="DB handles closed"
    )


def test_presence_goes_out_as_versioned_changes_and_the_list_only_to_the_joiner(
    server, alice_session, bob_session, carol_session, clients, fresh_room
):
    watcher = clients.open(alice_session, fresh_room)
    names, meta = watcher.wait(lambda c: [a for e, a in c.frames if e == "users"], "a list")[0]
    assert names == ["alice"]
    start = meta["version"]
    bob = clients.open(bob_session, fresh_room)
    carol = clients.open(carol_session, fresh_room)
    bob.close()
    watcher.wait_for("left", lambda d: d["user"] == "bob")
    changes = [(e, c) for e, c in watcher.presence_changes() if e in ("joined", "left")]
    changes = [(e, {"user": c["user"], "version": c["version"]}) for e, c in changes]
    assert changes[1:] == [
        ("joined", {"user": "bob", "version": start + 1}),
        ("joined", {"user": "carol", "version": start + 2}),
        ("left", {"user": "bob", "version": start + 3}),
    ]
    # The room never got a whole list again: only each joiner got one, its own.
    assert len(watcher.of("users")) == 1
    assert carol.of("users") == [["alice", "bob", "carol"]]
    assert watcher.users() == ["alice", "carol"]
    asked = watcher.call({}, event="users")
    assert asked == {"ok": True, "users": ["alice", "carol"], "version": start + 3}


def test_the_users_request_refuses_anything_but_an_empty_object(server, alice_session, clients):
    client = clients.open(alice_session, "random")
    assert client.call({"extra": 1}, event="users")["ok"] is False
    assert client.call([], event="users")["ok"] is False


def test_a_busy_room_gets_its_presence_notices_gathered(servers, clients):
    live = servers.start(PRESENCE_BATCH_MS="1000")
    room = live.create_room("Busy", "busy")
    watcher = clients.open(login(live.url, "alice", DEMO_PASSWORD), room, server=live)
    watcher.wait_users(["alice"])
    cookies = live.create_sessions([f"crowd{i}" for i in range(5)])
    crowd = [RawSocket(live.url, cookie=cookie) for cookie in cookies.values()]
    for raw in crowd:
        raw.connect_namespace({"room": room})
    watcher.wait_users(sorted(["alice", *cookies]))
    batches = [args[0]["changes"] for event, args in watcher.frames if event == "presence"]
    assert batches, "five joins within a second: some notices came gathered"
    assert all(len(changes) > 1 for changes in batches)
    assert sorted(watcher.who("joined")) == sorted(["alice", *cookies])
    for raw in crowd:
        raw.close()
    watcher.wait_users(["alice"])
