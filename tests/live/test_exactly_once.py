"""Issue 12: every message exactly once. A ``client_message_id`` sent again (a
lost ack, a resend after a reconnect, two tabs racing) stores and broadcasts
nothing more, and gets the first message's id."""

import uuid

import pytest

from tests.support.sio import call_at_once

pytestmark = pytest.mark.server


def client_id():
    return "t" + uuid.uuid4().hex[:20]


def rows_with(server, cmid):
    code = (
        "from chat.models import Message as M; "
        f"print(M.objects.filter(client_message_id={cmid!r}).count())"
    )
    return int(server.manage("shell", "-c", code).strip().splitlines()[-1])


def test_the_same_id_twice_is_one_row_one_broadcast_and_one_id(
    server, alice_session, bob_session, clients, fresh_room
):
    sender, watcher = clients.open(alice_session, fresh_room), clients.open(bob_session, fresh_room)
    cmid = client_id()
    first = sender.call({"text": "once", "client_message_id": cmid})
    again = sender.call({"text": "once", "client_message_id": cmid})
    assert first == {"ok": True, "id": first["id"]}
    assert again == {"ok": True, "id": first["id"], "duplicate": True}
    # A later message proves that anything sent before it has been delivered.
    marker = sender.send("marker")
    watcher.wait_for("message", lambda m: m["id"] == marker["id"])
    assert [m["id"] for m in watcher.of("message")].count(first["id"]) == 1
    delivered = next(m for m in watcher.of("message") if m["id"] == first["id"])
    assert delivered["client_message_id"] == cmid
    assert watcher.of("message")[-1]["client_message_id"] is None  # the marker had none
    assert rows_with(server, cmid) == 1


def test_two_tabs_sending_the_same_id_at_once_make_one_row(
    server, alice_session, clients, fresh_room
):
    tabs = [clients.open(alice_session, fresh_room) for _ in range(2)]
    for attempt in range(5):
        cmid = client_id()
        answers = call_at_once(tabs, {"text": f"race {attempt}", "client_message_id": cmid})
        assert answers[0]["id"] == answers[1]["id"], answers
        assert sorted(bool(a.get("duplicate")) for a in answers) == [False, True]
        assert rows_with(server, cmid) == 1


@pytest.mark.parametrize(
    "bad", ["short", "x" * 65, "with space", "ün1c0de!", 123456789, ["abcdefgh"], {"id": 1}]
)
def test_a_bad_client_message_id_is_refused_and_nothing_is_stored(
    server, alice_session, clients, bad
):
    client = clients.open(alice_session, "random")
    text = "never stored " + uuid.uuid4().hex
    answer = client.call({"text": text, "client_message_id": bad})
    assert answer["ok"] is False
    assert "client_message_id" in answer["error"]
    code = f"from chat.models import Message as M; print(M.objects.filter(text={text!r}).count())"
    assert server.manage("shell", "-c", code).strip().splitlines()[-1] == "0"


def test_history_and_gap_fill_carry_the_client_message_id(
    server, alice_session, clients, fresh_room
):
    writer = clients.open(alice_session, fresh_room)
    cmid = client_id()
    first = writer.send("without an id")["id"]
    writer.call({"text": "with an id", "client_message_id": cmid})
    history = clients.open(alice_session, fresh_room).wait_for("history")
    gap = clients.open(alice_session, fresh_room, after=first).wait_for("history")
    assert [m["client_message_id"] for m in history] == [None, cmid]
    assert [m["client_message_id"] for m in gap] == [cmid]


def test_an_id_used_in_another_room_is_refused_not_acked_as_a_duplicate(
    server, alice_session, clients, fresh_room
):
    in_general = clients.open(alice_session, "general")
    elsewhere = clients.open(alice_session, fresh_room)
    cmid = client_id()
    assert in_general.call({"text": "in general", "client_message_id": cmid})["ok"]
    answer = elsewhere.call({"text": "in the other room", "client_message_id": cmid})
    assert answer == {
        "ok": False,
        "error": "This client_message_id was used for a message in another room: "
        "make a new one for each message.",
    }
    assert rows_with(server, cmid) == 1
