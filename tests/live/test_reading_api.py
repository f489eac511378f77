"""Issue 13, server side: scroll-back (``older``), read marks (``read``), the
history of a returning reader, and the room list's live counts (``/lobby``)."""

import uuid

import pytest
import socketio

from tests.support.sio import LobbyClient

pytestmark = pytest.mark.server


@pytest.fixture
def room(server):
    slug = "rd-" + uuid.uuid4().hex[:8]
    return server.create_room(f"Reading {slug}", slug)


def post_many(client, count, label="m"):
    return [client.post(f"{label} {i}") for i in range(count)]


def test_older_pages_back_with_one_keyset_query_per_page(server, alice_session, clients, room):
    writer = clients.open(alice_session, room)
    ids = post_many(writer, 7)
    first = writer.call({"before": ids[5], "limit": 3}, event="older")
    assert [m["id"] for m in first["messages"]] == ids[2:5]
    assert first["ok"] is True and first["more"] is True
    last = writer.call({"before": ids[2], "limit": 3}, event="older")
    assert [m["id"] for m in last["messages"]] == ids[:2]
    assert last["more"] is False


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"before": 5},
        {"before": "5", "limit": 10},
        {"before": 5, "limit": 0},
        {"before": 5, "limit": 101},
        {"before": -1, "limit": 5},
        {"before": 5, "limit": 5, "extra": 1},
        [5, 5],
    ],
)
def test_older_refuses_a_bad_payload(server, alice_session, clients, room, payload):
    answer = clients.open(alice_session, room).call(payload, event="older")
    assert answer["ok"] is False and answer["error"]


def history_of(client):
    """The ``history`` event's list and its second argument."""
    args = client.wait(lambda c: [a for e, a in c.frames if e == "history"], "history")[0]
    return args[0], args[1]


def test_a_first_visit_shows_the_last_three_and_nothing_unread(
    server, alice_session, bob_session, clients, room
):
    post_many(clients.open(alice_session, room), 5)
    messages, meta = history_of(clients.open(bob_session, room))
    assert len(messages) == 3
    assert meta["last_read"] is None


def test_a_returning_reader_gets_what_they_missed_and_where_it_starts(
    server, alice_session, bob_session, clients, room
):
    writer = clients.open(alice_session, room)
    seen = post_many(writer, 4, "seen")
    reader = clients.open(bob_session, room)
    history_of(reader)  # the first visit sets bob's mark at the room's newest
    assert reader.call({"id": seen[-1]}, event="read") == {"ok": True}
    reader.close()
    missed = post_many(writer, 6, "missed")
    back = clients.open(bob_session, room)
    messages, meta = history_of(back)
    assert meta["last_read"] == seen[-1]
    assert [m["id"] for m in messages] == seen[-3:] + missed  # context, then unread


def test_read_never_moves_back_and_nothing_unread_means_the_last_three(
    server, alice_session, bob_session, clients, room
):
    writer = clients.open(alice_session, room)
    ids = post_many(writer, 5)
    reader = clients.open(bob_session, room)
    history_of(reader)
    assert reader.call({"id": ids[-1]}, event="read") == {"ok": True}
    assert reader.call({"id": ids[0]}, event="read") == {"ok": True}  # ignored
    reader.close()
    messages, meta = history_of(clients.open(bob_session, room))
    assert meta["last_read"] is None and [m["id"] for m in messages] == ids[-3:]


def test_read_refuses_a_bad_payload(server, alice_session, clients, room):
    client = clients.open(alice_session, room)
    for payload in ({}, {"id": "3"}, {"id": -2}, {"id": 1, "x": 2}, {"id": True}):
        assert client.call(payload, event="read")["ok"] is False


def test_the_room_list_counts_people_and_unread_messages_live(
    server, alice_session, bob_session, clients, room
):
    reader = clients.open(bob_session, room)
    history_of(reader)  # bob has a mark in the room now
    reader.close()
    lobby = LobbyClient(server.url, bob_session).connect()
    try:
        lobby.wait(lambda c: c.counts(room) == (0, 0), "no one there, nothing unread")
        writer = clients.open(alice_session, room)
        lobby.wait(lambda c: c.counts(room)[0] == 1, "alice counted")
        ids = post_many(writer, 2)
        lobby.wait(lambda c: c.counts(room) == (1, 2), "two unread")
        tab = clients.open(bob_session, room)
        tab.call({"id": ids[-1]}, event="read")
        lobby.wait(lambda c: c.counts(room) == (2, 0), "read in another tab")
        writer.close()
        lobby.wait(lambda c: c.counts(room)[0] == 1, "alice left")
    finally:
        lobby.close()


def test_the_room_list_needs_a_login(server):
    client = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(server.url, namespaces=["/lobby"], transports=["websocket"], wait_timeout=10)
