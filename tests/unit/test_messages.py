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
    return messages.store_message(member_of(user, room), text)


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
    }
    assert event["created"].endswith("Z")


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
