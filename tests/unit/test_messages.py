"""chat.messages: validation, storage and history, without sockets."""

import pytest
from django.contrib.auth import get_user_model

from chat import messages
from chat.connection import Member
from chat.models import Message, Room
from chat.payloads import Refused


@pytest.fixture
def rooms(db):
    return {room.slug: room for room in Room.objects.all()}


@pytest.fixture
def alice_user(db):
    return get_user_model().objects.create_user("alice", password="pw-not-used-here")


def member_of(user, room):
    return Member(user.pk, user.username, room.pk, room.slug, room.name)


def post(user, room, text):
    return messages.store_message(member_of(user, room), text)[0]


def test_three_rooms_come_from_the_data_migration(rooms):
    assert set(rooms) == {"general", "cats", "random"}


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"text": "hello"}, "hello"),
        ({"text": "  padded  \n"}, "padded"),
        ({"text": "two\nlines"}, "two\nlines"),
        ({"text": "bell\x07 and nul\x00 gone"}, "bell and nul gone"),
        ({"text": "é 漢字 🐱 שלום e\u0301"}, "é 漢字 🐱 שלום e\u0301"),
        ({"text": "<img src=x onerror=alert(1)>"}, "<img src=x onerror=alert(1)>"),
        ({"text": "x" * messages.MAX_MESSAGE_LENGTH}, "x" * messages.MAX_MESSAGE_LENGTH),
    ],
)
def test_clean_text_accepts(payload, expected):
    assert messages.clean_text(payload) == expected


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (None, "must be an object"),
        ("hello", "must be an object"),
        (["hello"], "must be an object"),
        ({}, "must be a string"),
        ({"text": 42}, "must be a string"),
        ({"text": None}, "must be a string"),
        ({"text": "hi", "html": "<b>"}, "Unexpected field"),
        ({"text": ""}, "empty"),
        ({"text": "   \n\t "}, "empty"),
        ({"text": "\x00\x01\x1b"}, "empty"),
        ({"text": "x" * (messages.MAX_MESSAGE_LENGTH + 1)}, "too long"),
        ({"text": "lone \ud800 surrogate"}, "invalid characters"),
    ],
)
def test_clean_text_refuses_with_a_readable_reason(payload, reason):
    with pytest.raises(Refused, match=reason):
        messages.clean_text(payload)


def test_store_message_returns_the_wire_form(rooms, alice_user):
    event = post(alice_user, rooms["general"], "hello")
    stored = Message.objects.get(pk=event["id"])
    assert event == {
        "id": stored.id,
        "room": "general",
        "user": "alice",
        "text": "hello",
        "created": stored.created.isoformat().replace("+00:00", "Z"),
        "client_message_id": None,
        "seq": stored.seq,
        "edited": None,
        "deleted": False,
        "mentions": [],
        "attachment": None,
    }
    assert stored.seq == stored.room.last_seq  # it took the room's next change number
    assert event["created"].endswith("Z")


def test_a_client_message_id_stores_a_message_once_per_author(rooms, alice_user, db):
    bob = get_user_model().objects.create_user("bob", password="pw-not-used-here")
    alice_in_general = member_of(alice_user, rooms["general"])
    first, stored = messages.store_message(alice_in_general, "hello", "k3J9x0aQ2mZ7")
    assert stored and first["client_message_id"] == "k3J9x0aQ2mZ7"
    again, stored = messages.store_message(alice_in_general, "hello again?", "k3J9x0aQ2mZ7")
    assert not stored
    assert again == first  # the first one's wire form, its text included
    # The id is the author's, unique across rooms: reused in another room it is
    # refused (acked as a duplicate, that new line was lost silently).
    with pytest.raises(Refused, match="another room"):
        messages.store_message(member_of(alice_user, rooms["cats"]), "hello", "k3J9x0aQ2mZ7")
    # Another author may use the same id.
    _, stored = messages.store_message(member_of(bob, rooms["general"]), "hi", "k3J9x0aQ2mZ7")
    assert stored
    assert Message.objects.filter(client_message_id="k3J9x0aQ2mZ7").count() == 2


def test_messages_without_a_client_message_id_are_all_stored(rooms, alice_user):
    member = member_of(alice_user, rooms["general"])
    assert [messages.store_message(member, "same")[1] for _ in range(3)] == [True] * 3


@pytest.mark.parametrize(
    "value", ["short", "x" * 65, "has space", "ünïcode1", "semi;colon", 12345678, True, ["a" * 8]]
)
def test_a_bad_client_message_id_is_refused(value):
    with pytest.raises(Refused, match="client_message_id"):
        messages.clean_message({"text": "hi", "client_message_id": value})


def test_a_client_message_id_is_optional_and_may_be_null():
    assert messages.clean_message({"text": "hi"}) == {"text": "hi", "client_message_id": None}
    assert messages.clean_message({"text": "hi", "client_message_id": None})["text"] == "hi"
    ok = messages.clean_message({"text": "hi", "client_message_id": "Ab-_0123456789"})
    assert ok["client_message_id"] == "Ab-_0123456789"


def test_history_is_the_three_newest_oldest_first(rooms, alice_user):
    ids = [post(alice_user, rooms["general"], f"m{i}")["id"] for i in range(5)]
    history, complete = messages.history(rooms["general"].pk, "general")
    assert complete
    assert [m["id"] for m in history] == ids[-3:]
    assert [m["text"] for m in history] == ["m2", "m3", "m4"]


def test_history_is_per_room(rooms, alice_user):
    post(alice_user, rooms["general"], "in general")
    post(alice_user, rooms["cats"], "in cats")
    assert [m["text"] for m in messages.history(rooms["cats"].pk, "cats")[0]] == ["in cats"]
    assert messages.history(rooms["random"].pk, "random") == ([], True)


def test_history_after_an_id_fills_the_gap(rooms, alice_user):
    ids = [post(alice_user, rooms["general"], f"m{i}")["id"] for i in range(6)]
    gap, complete = messages.history(rooms["general"].pk, "general", after=ids[1])
    assert [m["id"] for m in gap] == ids[2:]
    assert complete


def test_gap_fill_is_bounded_and_says_when_it_is_not_complete(rooms, alice_user):
    limit = messages.GAP_FILL_LIMIT
    ids = [post(alice_user, rooms["general"], f"m{i}")["id"] for i in range(limit + 5)]
    gap, complete = messages.history(rooms["general"].pk, "general", after=0)
    assert [m["id"] for m in gap] == ids[-limit:]
    assert not complete
    exactly, complete = messages.history(rooms["general"].pk, "general", after=ids[4])
    assert len(exactly) == limit
    assert complete


def test_before_and_after_page_through_a_room(rooms, alice_user):
    ids = [post(alice_user, rooms["general"], f"m{i}")["id"] for i in range(7)]
    room = rooms["general"].pk
    assert [m["id"] for m in messages.before(room, "general", ids[5], 3)] == ids[2:5]
    assert [m["id"] for m in messages.before(room, "general", ids[1], 3)] == ids[:1]
    assert [m["id"] for m in messages.before(room, "general", None, 2)] == ids[-2:]
    assert [m["id"] for m in messages.after(room, "general", ids[1], 3)] == ids[2:5]
    assert messages.after(room, "general", ids[-1], 3) == []


def test_history_is_one_query(rooms, alice_user, django_assert_num_queries):
    for i in range(4):
        post(alice_user, rooms["general"], f"m{i}")
    with django_assert_num_queries(1):
        messages.history(rooms["general"].pk, "general")


def test_every_change_takes_the_room_s_next_number(rooms, alice_user):
    member = member_of(alice_user, rooms["general"])
    first = messages.store_message(member, "one")[0]
    second = messages.store_message(member, "two")[0]
    elsewhere = messages.store_message(member_of(alice_user, rooms["cats"]), "cats")[0]
    assert second["seq"] == first["seq"] + 1
    edited = messages.edit_message(Message.objects.get(pk=first["id"]), "one, again", member)
    deleted = messages.delete_message(Message.objects.get(pk=second["id"]))
    assert (edited.seq, deleted.seq) == (second["seq"] + 1, second["seq"] + 2)
    assert elsewhere["seq"] == 1  # rooms count their changes apart
    changes, complete = messages.changes_since(rooms["general"].pk, "general", first["seq"])
    assert complete
    assert [(m["id"], m["text"], m["deleted"]) for m in changes] == [
        (first["id"], "one, again", False),  # in the order of the changes
        (second["id"], "", True),
    ]
    assert changes[0]["edited"] is not None


def test_deleted_messages_never_show_their_text_and_leave_the_last_three(rooms, alice_user):
    member = member_of(alice_user, rooms["general"])
    ids = [messages.store_message(member, f"m{i}")[0]["id"] for i in range(5)]
    messages.delete_message(Message.objects.get(pk=ids[-1]))
    history, _ = messages.history(rooms["general"].pk, "general")
    assert [m["id"] for m in history] == ids[1:4]
    gone = Message.objects.get(pk=ids[-1])
    assert gone.text == "" and messages.as_event(gone, "general", "alice")["text"] == ""


def test_mentions_name_users_who_exist(rooms, alice_user, db):
    get_user_model().objects.create_user("bob", password="x")
    get_user_model().objects.create_user("carol.b", password="x")
    member = member_of(alice_user, rooms["general"])
    text = "hi @bob and @carol.b, not @nobody nor mail@bob.example or @bob."
    stored = messages.store_message(member, text)[0]
    assert stored["mentions"] == ["bob", "carol.b"]
    assert messages.store_message(member, "no one")[0]["mentions"] == []


def test_a_deleted_users_messages_stay_as_placeholders_with_new_change_numbers(
    rooms, alice_user, django_capture_on_commit_callbacks
):
    from chat.models import DELETED_USER
    from chat.signals import message_changed

    bob = get_user_model().objects.create_user("bob", password="pw-not-used-here")
    in_general = member_of(bob, rooms["general"])
    first = messages.store_message(in_general, "bob's secret", "bobs-id-0001")[0]
    messages.store_message(member_of(alice_user, rooms["general"]), "alice stays")
    told = []

    def hear(sender, message, deleted, **kwargs):
        told.append(message.id)

    message_changed.connect(hear)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            bob.delete()
    finally:
        message_changed.disconnect(hear)
    kept = Message.objects.get(pk=first["id"])
    assert (kept.text, kept.deleted is not None, kept.author.username) == ("", True, DELETED_USER)
    assert kept.seq > first["seq"] and kept.client_message_id == ""
    assert told == [first["id"]]
    assert [m["text"] for m in messages.latest(rooms["general"].pk, "general", 99)] == [
        "alice stays"
    ]
    assert not get_user_model().objects.get(username=DELETED_USER).is_active
