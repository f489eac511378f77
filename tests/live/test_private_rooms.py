"""Private rooms and direct messages against the real server (issue 22): on
every socket path a non-member gets nothing, a member gets what they should,
and a removed member is cut off within 2 s."""

import re
import sqlite3
import time

import pytest

from tests.support.server import DEMO_PASSWORD, csrf_post, login, wait_until
from tests.support.sio import LobbyClient, refusal_of

pytestmark = pytest.mark.server

WITHIN = 2.0  # seconds: a removal holds everywhere within this (issue 21's rule)
GONE = "You are no longer a member of this room."


@pytest.fixture(scope="module")
def live(module_servers):
    return module_servers.start()


@pytest.fixture(scope="module")
def people(live):
    return {name: login(live.url, name, DEMO_PASSWORD) for name in ("alice", "bob", "carol")}


def create_room(live, creator, name, kind="private", members=""):
    """Through the room list's ordinary form; the new room's slug."""
    answer = csrf_post(
        creator.session,
        live.url,
        "/chat/",
        {"name": name, "kind": kind, "members": members},
    )
    slug = re.fullmatch(r".*/chat/([0-9a-z-]+)/", answer.url)
    assert slug, (answer.status_code, answer.url)
    return slug.group(1)


def change_members(live, actor, slug, action, username):
    return csrf_post(
        actor.session, live.url, f"/chat/{slug}/members/", {"action": action, "username": username}
    )


def sql(live, statement, *params):
    path = live.env["DATABASE_URL"].split("sqlite:///", 1)[1]
    with sqlite3.connect(path, timeout=10) as db:
        db.execute(statement, params)


def remove_in_sql(live, username, slug):
    """Remove a member as a shell or another host would: no signal reaches the server."""
    sql(
        live,
        "DELETE FROM chat_membership WHERE user_id = (SELECT id FROM auth_user WHERE username = ?)"
        " AND room_id = (SELECT id FROM chat_room WHERE slug = ?)",
        username,
        slug,
    )


_names = iter(range(10_000))


def unique(prefix):
    return f"{prefix} {next(_names)} {time.monotonic_ns()}"


@pytest.fixture
def team(live, people):
    """A private room of alice (creator) and bob."""
    return create_room(live, people["alice"], unique("team"), members="bob")


def lobby_of(live, logged_in):
    return LobbyClient(live.url, logged_in).connect()


def no_such_room(slug):
    return f"There is no chat room {slug!r}."


def test_a_non_member_is_refused_as_for_a_room_that_does_not_exist(live, people, team):
    assert refusal_of(live.url, logged_in=people["carol"], room="nowhere") == no_such_room(
        "nowhere"
    )
    assert refusal_of(live.url, logged_in=people["carol"], room=team) == no_such_room(team)


def test_members_talk_in_a_private_room(live, people, team, clients):
    alice = clients.open(people["alice"], team, server=live)
    bob = clients.open(people["bob"], team, server=live)
    alice.wait_users(["alice", "bob"])
    sent = alice.post("for the team only")
    assert bob.wait_for("message", lambda m: m["id"] == sent)["text"] == "for the team only"
    older = bob.call({"before": sent + 1, "limit": 10}, event="older")
    assert [m["text"] for m in older["messages"]] == ["for the team only"]


def test_a_direct_conversation_is_for_its_two_people(live, people, clients):
    page = people["alice"].session.get(live.url + "/chat/dm/bob/", timeout=10)
    slug = re.search(r'data-room="([0-9a-f]+)"', page.text).group(1)
    again = people["bob"].session.get(live.url + "/chat/dm/alice/", timeout=10)
    assert f'data-room="{slug}"' in again.text
    alice = clients.open(people["alice"], slug, server=live)
    bob = clients.open(people["bob"], slug, server=live)
    sent = bob.post("just between us")
    alice.wait_for("message", lambda m: m["id"] == sent)
    assert refusal_of(live.url, logged_in=people["carol"], room=slug) == no_such_room(slug)
    carol_page = people["carol"].session.get(live.url + f"/chat/{slug}/", timeout=10)
    assert carol_page.status_code == 404


def test_the_room_list_of_a_non_member_never_hears_of_a_private_room(live, people, team, clients):
    carol_list, bob_list = lobby_of(live, people["carol"]), lobby_of(live, people["bob"])
    try:
        alice = clients.open(people["alice"], team, server=live)
        secret = alice.post("what the room list must not tell carol")
        news = bob_list.wait_for("activity", lambda d: d["room"] == team)
        assert (news["id"], news["kind"], news["user"]) == (secret, "private", "alice")
        # An open room's news after it: carol's list has heard everything before.
        public = clients.open(people["alice"], "random", server=live).post("to everyone")
        carol_list.wait_for("activity", lambda d: d["id"] == public)
        seen = [data for _event, data in carol_list.events]
        assert team not in repr(seen) and "must not tell" not in repr(seen)
        assert team not in [room["room"] for room in carol_list.of("rooms")[0]]
        assert team in [room["room"] for room in bob_list.of("rooms")[0]]
    finally:
        carol_list.close()
        bob_list.close()


def test_a_direct_message_appears_in_the_recipients_list_named_after_the_sender(
    live, people, clients
):
    page = people["carol"].session.get(live.url + "/chat/dm/bob/", timeout=10)
    slug = re.search(r'data-room="([0-9a-f]+)"', page.text).group(1)
    bob_list = lobby_of(live, people["bob"])
    try:
        sent = clients.open(people["carol"], slug, server=live).post("hello bob")
        news = bob_list.wait_for("activity", lambda d: d["room"] == slug)
        assert (news["id"], news["name"], news["kind"]) == (sent, "carol", "direct")
    finally:
        bob_list.close()


def test_added_members_are_announced_and_their_list_shows_the_room(live, people, team, clients):
    bob = clients.open(people["bob"], team, server=live)
    carol_list = lobby_of(live, people["carol"])
    try:
        assert change_members(live, people["alice"], team, "add", "carol").status_code == 200
        assert bob.wait_for("member_added") == {"user": "carol", "by": "alice"}
        added = carol_list.wait_for("room_added", lambda d: d["room"] == team)
        assert (added["kind"], added["unread"]) == ("private", 0)
        carol = clients.open(people["carol"], team, server=live)
        carol.wait_for("history")
    finally:
        carol_list.close()


def test_a_member_removed_from_the_page_is_cut_off_at_once(live, people, team, clients):
    alice = clients.open(people["alice"], team, server=live)
    bob = clients.open(people["bob"], team, server=live)
    bob_list = lobby_of(live, people["bob"])
    try:
        alice.wait_users(["alice", "bob"])
        removed_at = time.monotonic()
        change_members(live, people["alice"], team, "remove", "bob")
        assert bob.wait_for("session_ended", timeout=WITHIN)["reason"] == GONE
        wait_until(lambda: not bob.sio.connected, timeout=WITHIN, message="bob cut off")
        assert time.monotonic() - removed_at < WITHIN + 1  # the HTTP round trip included
        assert alice.wait_for("member_removed") == {"user": "bob", "by": "alice"}
        alice.wait_users(["alice"])
        bob_list.wait_for("room_removed", lambda d: d["room"] == team)
        after = alice.post("after bob left")
        assert after not in bob.message_ids()
        assert refusal_of(live.url, logged_in=people["bob"], room=team) == no_such_room(team)
        assert people["bob"].session.get(live.url + f"/chat/{team}/", timeout=10).status_code == 404
    finally:
        bob_list.close()


def test_a_member_removed_in_sql_is_cut_off_within_two_seconds(live, people, team, clients):
    bob = clients.open(people["bob"], team, server=live)
    bob.wait_for("history")
    remove_in_sql(live, "bob", team)
    removed_at = time.monotonic()
    assert bob.wait_for("session_ended", timeout=WITHIN)["reason"] == GONE
    assert time.monotonic() - removed_at < WITHIN
    assert refusal_of(live.url, logged_in=people["bob"], room=team) == no_such_room(team)


def test_a_deleted_room_ends_its_connections(live, people, clients):
    slug = create_room(live, people["alice"], unique("short-lived"), members="bob")
    bob = clients.open(people["bob"], slug, server=live)
    bob.wait_for("history")
    live.manage(
        "shell", "-c", f"from chat.models import Room; Room.objects.get(slug={slug!r}).delete()"
    )
    assert bob.wait_for("session_ended", timeout=WITHIN + 5)["reason"] == GONE


def test_a_removed_members_events_are_refused_before_the_connection_ends(
    live, people, team, clients
):
    # The sweep that closes connections runs each PERMISSION_RECHECK_SECONDS;
    # between a removal and it, every event checks membership itself.
    bob = clients.open(people["bob"], team, server=live)
    sent = bob.post("mine")
    remove_in_sql(live, "bob", team)

    def refused_or_closed():
        if not bob.sio.connected:
            return True
        try:
            answer = bob.call({"before": sent + 1, "limit": 5}, event="older", timeout=2)
        except Exception:  # closed while asking
            return True
        return answer.get("error") == GONE

    wait_until(refused_or_closed, timeout=WITHIN, message="bob refused")


def test_non_members_cannot_create_members_of_a_room_they_cannot_see(live, people, team):
    answer = change_members(live, people["carol"], team, "add", "carol")
    assert answer.status_code == 404
    assert refusal_of(live.url, logged_in=people["carol"], room=team) == no_such_room(team)
