"""Notifications against the real server (issue 23): the ``notification_level``
event (every tab of the user hears it, the room list carries it), the
``notification`` event to the recipients' pages only, and hostile input."""

import pytest

from tests.support.server import DEMO_PASSWORD, login
from tests.support.sio import LobbyClient

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def live(module_servers):
    return module_servers.start()


@pytest.fixture(scope="module")
def people(live):
    return {name: login(live.url, name, DEMO_PASSWORD) for name in ("alice", "bob", "carol")}


@pytest.fixture
def open_clients(live, clients):
    return lambda who, room: clients.open(who, room, server=live)


@pytest.fixture
def lobby(live):
    opened = []

    def open_lobby(who):
        client = LobbyClient(live.url, who).connect()
        opened.append(client)
        return client

    yield open_lobby
    for client in opened:
        client.close()


def test_a_page_gets_its_level_when_it_joins(open_clients, people):
    page = open_clients(people["carol"], "cats")
    assert page.wait_for("notification_level") == {"room": "cats", "level": "mentions"}


def test_a_level_set_in_one_tab_shows_in_every_tab_and_list(open_clients, lobby, people):
    first = open_clients(people["bob"], "random")
    other_room = open_clients(people["bob"], "cats")
    room_list = lobby(people["bob"])
    room_list.wait_for("rooms")
    assert first.call({"level": "none"}, event="notification_level") == {
        "ok": True,
        "level": "none",
    }
    wanted = {"room": "random", "level": "none"}
    for page in (first, other_room, room_list):
        page.wait_for("notification_level", lambda data: data == wanted)
    again = lobby(people["bob"]).wait_for("rooms")
    assert next(entry for entry in again if entry["room"] == "random")["level"] == "none"
    assert open_clients(people["bob"], "random").wait_for("notification_level") == wanted
    first.call({"level": "mentions"}, event="notification_level")


@pytest.mark.parametrize(
    "payload, error",
    [
        ({"level": "loud"}, '"level" must be "all", "mentions" or "none".'),
        ({"level": 3}, '"level" must be "all", "mentions" or "none".'),
        ({"level": "all", "room": "cats"}, "Unexpected field(s): room."),
        ("all", 'Send {"level": "all" | "mentions" | "none"}.'),
        ({"level": "a" * 10_000}, '"level" must be "all", "mentions" or "none".'),
    ],
)
def test_a_bad_level_is_refused_and_changes_nothing(open_clients, people, payload, error):
    page = open_clients(people["carol"], "general")
    answer = page.call(payload, event="notification_level")
    assert answer == {"ok": False, "error": error}
    assert page.call({}, event="users")["ok"]  # the connection goes on


def test_the_room_list_namespace_has_no_level_event(lobby, people):
    room_list = lobby(people["carol"])
    room_list.wait_for("rooms")
    answer = room_list.sio.call(
        "notification_level", {"level": "none"}, namespace="/lobby", timeout=10
    )
    assert answer["ok"] is False


def test_a_mention_reaches_the_named_users_pages_in_other_rooms(open_clients, lobby, people):
    bob_elsewhere = open_clients(people["bob"], "cats")
    bob_list = lobby(people["bob"])
    carol_elsewhere = open_clients(people["carol"], "cats")
    alice = open_clients(people["alice"], "random")
    plain = alice.post("nothing for anyone")
    named = alice.post("@bob look at this")
    news = bob_elsewhere.wait_for("notification", lambda data: data["id"] == named)
    assert news == {
        "room": "random",
        "name": "Random",
        "kind": "open",
        "id": named,
        "user": "alice",
        "text": "@bob look at this",
        "mention": True,
        "url": f"/chat/random/?at={named}",
    }
    bob_list.wait_for("notification", lambda data: data["id"] == named)
    # Later than both messages: whatever was going to arrive has.
    last = alice.post("@carol and you")
    carol_elsewhere.wait_for("notification", lambda data: data["id"] == last)
    bob_elsewhere.wait_for("notification_level")
    assert [n["id"] for n in carol_elsewhere.of("notification")] == [last]
    assert plain not in [n["id"] for n in bob_elsewhere.of("notification")]
    assert alice.of("notification") == []  # nobody hears of their own lines


def test_a_long_text_is_cut_short(open_clients, people):
    bob = open_clients(people["bob"], "cats")
    alice = open_clients(people["alice"], "random")
    sent = alice.post("@bob " + "x" * 1000)
    news = bob.wait_for("notification", lambda data: data["id"] == sent)
    assert len(news["text"]) == 200 and news["text"].endswith("…")
