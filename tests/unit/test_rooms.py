"""chat.rooms without sockets: what a join, a leave and a post send to whom,
how many queries a join costs, and presence notices gathered in a busy room."""

import pytest
from django.contrib.auth import get_user_model

from chat import reading
from chat.backends.memory import create
from chat.connection import Member
from chat.lobby import Lobby
from chat.models import ReadMark, Room
from chat.rooms import PresenceChurn, Rooms
from chat.sessions import ConnectionRegistry


class Recorder:
    """Stands in for python-socketio's server: remembers every emit."""

    def __init__(self):
        self.sent = []
        self.rooms = {}
        self.tasks = []

    def emit(self, event, data=None, to=None, skip_sid=None, ignore_queue=False, namespace=None):
        self.sent.append((event, data, to, namespace or "/"))

    def enter_room(self, sid, room, namespace=None):
        self.rooms.setdefault((namespace or "/", room), set()).add(sid)

    def start_background_task(self, function, *args):
        self.tasks.append((function, args))

    def sleep(self, seconds):
        pass

    def to(self, target, namespace="/"):
        return [
            (event, data) for event, data, to, ns in self.sent if to == target and ns == namespace
        ]


@pytest.fixture
def setup(db, settings):
    settings.PRESENCE_BATCH_MS = 200
    server = Recorder()
    backend = create(settings)
    rooms = Rooms(server, backend, ConnectionRegistry(), Lobby(server, backend.presence))
    room = Room.objects.get(slug="general")
    users = {name: get_user_model().objects.create_user(name) for name in ("alice", "bob", "carol")}

    def member(name):
        user = users[name]
        return Member(user.pk, name, room.pk, room.slug, room.name, session_key=f"key-{name}")

    return server, rooms, member


def test_a_joiner_gets_history_then_the_room_hears_one_notice(setup):
    server, rooms, member = setup
    rooms.join("a1", member("alice"))
    assert [event for event, _ in server.to("a1")] == ["history", "users"]
    history, meta = server.to("a1")[0][1]
    assert history == [] and meta["last_read"] is None
    names, version = server.to("a1")[1][1]
    assert names == ["alice"]
    assert server.to("general") == [("joined", {"user": "alice", "version": version["version"]})]


def test_a_reconnect_costs_two_small_queries_when_the_session_is_known(
    setup, django_assert_num_queries
):
    server, rooms, member = setup
    alice = member("alice")
    first, _ = rooms.post(alice, "hello")
    second, _ = rooms.post(alice, "again")
    # The room's change number (where its next reconnect starts), and what it missed.
    with django_assert_num_queries(2):
        rooms.join("a1", alice, after=first["id"])
    with django_assert_num_queries(2):
        rooms.join("a2", alice, since=first["seq"])
    history, meta = server.to("a2")[0][1]
    assert history == [second] and meta["seq"] == second["seq"]


def test_a_reconnect_that_missed_nothing_costs_one_query(setup, django_assert_num_queries):
    server, rooms, member = setup
    alice = member("alice")
    first, _ = rooms.post(alice, "hello")
    with django_assert_num_queries(1):  # the room's change number: the page has seen it
        rooms.join("a1", alice, since=first["seq"])
    assert server.to("a1")[0][1] == ([], {"last_read": None, "seq": first["seq"]})


def test_a_first_entry_sets_the_read_mark_in_one_insert(setup, django_assert_num_queries):
    _, rooms, member = setup
    first, _ = rooms.post(member("bob"), "hello")
    alice = member("alice")
    # The change number, her mark (none yet), the last 3 messages, the new mark.
    with django_assert_num_queries(4):
        rooms.join("a1", alice)
    assert ReadMark.objects.get(user_id=alice.user_id).last_read_id == first["id"]


def test_a_reconnect_claiming_a_change_number_beyond_the_room_gets_the_room_s_own(setup):
    """A ``since`` past the room's number (a hostile client, or a page from
    before a database restore) gets nothing to fill in and the room's real
    number, where its next reconnect starts."""
    server, rooms, member = setup
    first, _ = rooms.post(member("bob"), "hello")
    rooms.join("a1", member("alice"), since=10**30)
    assert server.to("a1")[0][1] == ([], {"last_read": None, "seq": first["seq"]})


def test_entries_at_the_same_change_number_read_the_last_messages_once(
    setup, django_assert_num_queries
):
    server, rooms, member = setup
    first, _ = rooms.post(member("bob"), "hello")
    rooms.join("a1", member("alice"))
    # Her mark, the change number, the new mark: the last 3 messages are known.
    with django_assert_num_queries(3):
        rooms.join("c1", member("carol"))
    assert server.to("c1")[0][1][0] == server.to("a1")[0][1][0] == [first]


def test_an_entry_after_a_change_reads_the_last_messages_again(setup):
    server, rooms, member = setup
    first, _ = rooms.post(member("bob"), "hello")
    rooms.join("a1", member("alice"))
    edited = rooms.edit(member("bob"), first["id"], "hello, edited")
    second, _ = rooms.post(member("bob"), "again")
    rooms.join("c1", member("carol"))
    history, meta = server.to("c1")[0][1]
    assert [(m["id"], m["text"]) for m in history] == [
        (first["id"], "hello, edited"),
        (second["id"], "again"),
    ]
    assert meta["seq"] == second["seq"] > edited["seq"]


def test_an_entry_after_a_delete_no_longer_shows_the_message(setup):
    server, rooms, member = setup
    first, _ = rooms.post(member("bob"), "hello")
    rooms.join("a1", member("alice"))
    rooms.delete(member("bob"), first["id"])
    rooms.join("c1", member("carol"))
    assert server.to("c1")[0][1][0] == []


def test_a_first_entry_never_moves_back_a_mark_made_meanwhile(setup):
    _, rooms, member = setup
    first, _ = rooms.post(member("bob"), "hello")
    alice = member("alice")
    ReadMark.objects.create(user_id=alice.user_id, room_id=alice.room_id, last_read_id=first["id"])
    reading._first_mark(alice.user_id, alice.room_id, 0)  # her other tab, a moment late
    assert ReadMark.objects.get(user_id=alice.user_id).last_read_id == first["id"]


def test_a_busy_room_hears_gathered_notices(setup):
    server, rooms, member = setup
    rooms.join("a1", member("alice"))  # the room's first notice goes at once
    rooms.join("b1", member("bob"))  # within the window: gathered for later
    rooms.join("c1", member("carol"))
    rooms.leave("b1")
    assert [event for event, _ in server.to("general")] == ["joined"]
    [(tell_later, args)] = server.tasks  # one flush for the whole window
    tell_later(*args)
    event, batch = server.to("general")[-1]
    assert event == "presence"
    changes = [(c["event"], c["user"]) for c in batch["changes"]]
    assert changes == [("joined", "bob"), ("joined", "carol"), ("left", "bob")]
    versions = [c["version"] for c in batch["changes"]]
    assert versions == sorted(versions) and len(set(versions)) == 3


def test_presence_churn_counts_the_last_second():
    churn = PresenceChurn()
    assert churn.add(10.0, 1) == 1
    assert churn.add(10.9, 39) == 40
    # Half of the previous second is still within the last second.
    assert churn.add(11.5, 2) == pytest.approx(2 + 40 * 0.5)
    assert churn.add(13.2, 1) == 1  # a second with nothing in between: forgotten


def test_a_storm_gathers_every_room_s_notices_for_longer(setup, settings, monkeypatch):
    """10,000 pages coming back into 100 rooms bring each room a change or two a
    second: under the storm window they are gathered, not one delivery per
    member per change."""
    server, rooms, member = setup
    settings.PRESENCE_STORM_CHANGES = 1  # alice alone is no storm; bob makes one
    settings.PRESENCE_STORM_BATCH_MS = 1500
    clock = [100.0]
    monkeypatch.setattr("chat.rooms.time.monotonic", lambda: clock[0])
    rooms.join("a1", member("alice"))
    clock[0] += 0.5  # past the quiet window of 200 ms, but the process is in a storm
    rooms.join("b1", member("bob"))
    clock[0] += 0.5
    rooms.join("c1", member("carol"))
    assert [event for event, _ in server.to("general")] == ["joined"]
    [(tell_later, (room, delay))] = server.tasks
    assert delay == pytest.approx(1.0)  # the storm window, counted from the first notice
    tell_later(room, delay)
    assert [event for event, _ in server.to("general")] == ["joined", "presence"]


def test_in_a_storm_a_quiet_room_gathers_too(setup, settings, monkeypatch):
    server, rooms, member = setup
    settings.PRESENCE_STORM_CHANGES = 1
    clock = [100.0]
    monkeypatch.setattr("chat.rooms.time.monotonic", lambda: clock[0])
    rooms.churn.add(clock[0], 5)  # other rooms' changes: the process is in a storm
    rooms.join("a1", member("alice"))
    assert server.to("general") == []
    [(tell_later, (room, delay))] = server.tasks
    assert delay == settings.PRESENCE_STORM_BATCH_MS / 1000
    tell_later(room, delay)
    assert [event for event, _ in server.to("general")] == ["joined"]


def test_outside_a_storm_a_quiet_room_hears_each_notice_at_once(setup, monkeypatch):
    server, rooms, member = setup
    clock = [100.0]
    monkeypatch.setattr("chat.rooms.time.monotonic", lambda: clock[0])
    rooms.join("a1", member("alice"))
    clock[0] += 0.5
    rooms.join("b1", member("bob"))
    assert [event for event, _ in server.to("general")] == ["joined", "joined"]
    assert server.tasks == []


def test_a_stored_message_goes_to_the_room_and_the_room_list(setup):
    server, rooms, member = setup
    message, stored = rooms.post(member("alice"), "hi")
    assert stored
    assert ("message", message) in server.to("general")
    assert server.to("lobby", namespace="/lobby")[-1] == (
        "activity",
        {"room": "general", "id": message["id"], "user": "alice"},
    )


def test_a_join_whose_database_fails_leaves_no_trace_in_the_room(setup, monkeypatch):
    from django.db import DatabaseError

    from chat import messages

    server, rooms, member = setup

    def down(room_id):
        raise DatabaseError("the database is gone")

    monkeypatch.setattr(messages, "room_seq", down)
    with pytest.raises(DatabaseError):
        rooms.join("a1", member("alice"))
    assert rooms.registry.member("a1") is None
    assert rooms.user_list("general")[0] == []
    assert server.sent == []  # no history, no notice
