"""Issue 14 against the real server: typing, edits, deletes, mentions, mutes,
and a page that comes back seeing every change it missed."""

import re
import uuid

import pytest

from tests.support.server import DEMO_PASSWORD, login
from tests.support.sio import connected

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def chat_server(module_servers):
    """carol is staff here."""
    live = module_servers.start()
    live.manage(
        "shell",
        "-c",
        "from django.contrib.auth.models import User; "
        "User.objects.filter(username='carol').update(is_staff=True)",
    )
    return live


@pytest.fixture
def room(chat_server):
    slug = "cv-" + uuid.uuid4().hex[:8]
    return chat_server.create_room(slug, slug)


@pytest.fixture
def people(chat_server, room, clients):
    """alice, bob and carol (staff) in ``room``."""

    def open_as(name):
        return clients.open(login(chat_server.url, name, DEMO_PASSWORD), room, server=chat_server)

    return {name: open_as(name) for name in ("alice", "bob", "carol")}


def test_typing_reaches_the_others_not_the_typist_and_stores_nothing(people):
    alice, bob = people["alice"], people["bob"]
    assert bob.call({"typing": True}, event="typing") == {"ok": True}
    assert alice.wait_for("typing") == {"user": "bob", "typing": True}
    assert bob.call({"typing": False}, event="typing") == {"ok": True}
    alice.wait_for("typing", lambda d: d["typing"] is False)
    marker = bob.post("marker")
    bob.wait_for("message", lambda m: m["id"] == marker)
    assert bob.of("typing") == []
    for bad in ({}, {"typing": "yes"}, {"typing": True, "x": 1}):
        assert bob.call(bad, event="typing")["ok"] is False


def test_typing_news_are_rate_limited(servers, clients):
    live = servers.start(TYPING_RATE_BURST="2")
    bob = clients.open(login(live.url, "bob", DEMO_PASSWORD), "general", server=live)
    answers = [bob.call({"typing": True}, event="typing") for _ in range(3)]
    assert [a["ok"] for a in answers] == [True, True, False]


def test_an_edit_updates_every_page_and_only_the_author_may_edit(people):
    alice, bob = people["alice"], people["bob"]
    sent = alice.post("frist")
    assert alice.call({"id": sent, "text": "first"}, event="edit") == {"ok": True, "id": sent}
    updated = bob.wait_for("message_updated")
    assert (updated["id"], updated["text"], updated["user"]) == (sent, "first", "alice")
    assert updated["edited"].endswith("Z")
    assert updated["seq"] > bob.wait_for("message", lambda m: m["id"] == sent)["seq"]
    refused = bob.call({"id": sent, "text": "mine now"}, event="edit")
    assert refused == {"ok": False, "error": "You can only edit your own messages."}
    for bad in ({"id": sent}, {"id": sent, "text": " "}, {"id": "x", "text": "y"}, {"text": "y"}):
        assert alice.call(bad, event="edit")["ok"] is False
    assert alice.call({"id": 10**12, "text": "y"}, event="edit")["ok"] is False


def test_edits_close_after_the_edit_window(servers, clients):
    live = servers.start(MESSAGE_EDIT_MINUTES="0")
    alice = clients.open(login(live.url, "alice", DEMO_PASSWORD), "general", server=live)
    sent = alice.post("too late to fix")
    answer = alice.call({"id": sent, "text": "fixed"}, event="edit")
    assert answer["ok"] is False and "0 minutes" in answer["error"]


def test_deletes_remove_the_text_everywhere_staff_may_delete_any(people, chat_server, room):
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    ids = [alice.post(f"line {i}") for i in range(4)]
    assert bob.call({"id": ids[-1]}, event="delete") == {
        "ok": False,
        "error": "You can only delete your own messages.",
    }
    assert alice.call({"id": ids[-1]}, event="delete") == {"ok": True, "id": ids[-1]}
    assert carol.call({"id": ids[-2]}, event="delete") == {"ok": True, "id": ids[-2]}
    gone = bob.wait(lambda c: {d["id"] for d in c.of("message_deleted")} >= set(ids[-2:]), "both")
    assert gone
    assert alice.call({"id": ids[-1]}, event="delete")["ok"] is False  # already deleted
    # Newcomers' last 3 are the last 3 not deleted, and no deleted text anywhere.
    late = connected(chat_server.url, login(chat_server.url, "bob", DEMO_PASSWORD), room)
    history = late.wait_for("history")
    late.close()
    assert [m["id"] for m in history] == ids[:2]


def test_mentions_are_stored_with_the_message(people):
    message_id = people["alice"].post("hey @bob, and @nobody")
    delivered = people["bob"].wait_for("message", lambda m: m["id"] == message_id)
    assert delivered["mentions"] == ["bob"]


def test_staff_mute_a_user_who_is_told_why_and_others_cannot(people):
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    assert bob.call({"user": "alice", "minutes": 5}, event="mute") == {
        "ok": False,
        "error": "Only staff can do that.",
    }
    assert alice.send("still free")["ok"]
    muted = carol.call({"user": "alice", "minutes": 5}, event="mute")
    assert muted["ok"] is True
    notice = bob.wait_for("muted")
    assert (notice["user"], notice["by"]) == ("alice", "carol")
    refused = alice.send("let me speak")
    assert refused["ok"] is False
    assert re.fullmatch(r"You are muted in this room until \d\d:\d\d\.", refused["error"])
    for bad in ({"user": "alice", "minutes": 7}, {"user": "", "minutes": 5}, {"user": "alice"}):
        assert carol.call(bad, event="mute")["ok"] is False
    assert carol.call({"user": "nobody-here", "minutes": 5}, event="mute")["ok"] is False
    assert carol.call({"user": "alice"}, event="unmute") == {"ok": True}
    bob.wait_for("unmuted")
    assert alice.send("free again")["ok"]


def test_a_mute_holds_across_a_restart(servers, clients):
    live = servers.start()
    live.manage(
        "shell",
        "-c",
        "from django.contrib.auth.models import User; "
        "User.objects.filter(username='carol').update(is_staff=True)",
    )
    carol = clients.open(login(live.url, "carol", DEMO_PASSWORD), "general", server=live)
    assert carol.call({"user": "bob", "minutes": 60}, event="mute")["ok"]
    carol.close()
    live.restart()
    bob = clients.open(login(live.url, "bob", DEMO_PASSWORD), "general", server=live)
    assert "muted" in bob.send("after the restart")["error"]


def test_a_page_that_comes_back_gets_every_change_it_missed(people, chat_server, room, clients):
    alice, bob = people["alice"], people["bob"]
    kept, edited, deleted = (alice.post(text) for text in ("kept", "to edit", "to delete"))
    newest_seq = bob.wait_for("message", lambda m: m["id"] == deleted)["seq"]
    bob.close()  # bob's page is offline
    alice.call({"id": edited, "text": "edited"}, event="edit")
    alice.call({"id": deleted}, event="delete")
    added = alice.post("new while away")
    back = clients.open(
        login(chat_server.url, "bob", DEMO_PASSWORD),
        room,
        server=chat_server,
        auth={"room": room, "after": deleted, "since": newest_seq},
    )
    replay = back.wait_for("history")
    assert [(m["id"], m["text"], m["deleted"]) for m in replay] == [
        (edited, "edited", False),
        (deleted, "", True),
        (added, "new while away", False),
    ]
    assert kept not in [m["id"] for m in replay]
