"""chat.notify.levels: who is told of a message, for each level, room kind,
mention, own message, deleted message and non-member (issue 23)."""

import pytest

from chat import access, messages
from chat.connection import Member
from chat.models import Membership, NotificationLevel, Room
from chat.notify import levels

pytestmark = pytest.mark.django_db


def post(author, room, text):
    """Store a message as the chat does; its wire form."""
    member = Member(
        author.pk, author.username, room.pk, room.slug, room.name, private=not room.is_open
    )
    message, _ = messages.store_message(member, text)
    return message


def told(message, room):
    return sorted(recipient.username for recipient in levels.recipients(message, room))


@pytest.fixture
def general(alice, bob, carol):
    return Room.objects.get(slug="general")


def test_defaults_mentions_in_open_and_private_rooms_all_in_direct_ones():
    assert levels.default_level(Room.Kind.OPEN) == "mentions"
    assert levels.default_level(Room.Kind.PRIVATE) == "mentions"
    assert levels.default_level(Room.Kind.DIRECT) == "all"


def test_open_room_by_default_only_those_named_are_told(general, alice):
    assert told(post(alice, general, "hello all"), general) == []
    assert told(post(alice, general, "hello @bob"), general) == ["bob"]


def test_open_room_level_all_hears_every_message_of_others(general, alice, bob, carol):
    levels.set_level(carol.pk, general, "all")
    assert told(post(alice, general, "hello all"), general) == ["carol"]
    assert told(post(carol, general, "my own line"), general) == []  # never one's own


def test_level_none_hears_nothing_not_even_a_mention(general, alice, bob):
    levels.set_level(bob.pk, general, "none")
    assert told(post(alice, general, "@bob look"), general) == []


def test_a_mention_of_oneself_tells_nobody(general, alice):
    assert told(post(alice, general, "note to @alice"), general) == []


def test_mention_flag_says_whether_the_recipient_was_named(general, alice, bob, carol):
    levels.set_level(carol.pk, general, "all")
    found = {
        r.username: r.mentioned for r in levels.recipients(post(alice, general, "@bob"), general)
    }
    assert found == {"bob": True, "carol": False}


def test_private_room_members_hear_mentions_and_everyone(team, alice, bob, carol):
    assert told(post(alice, team, "plain line"), team) == []
    assert told(post(alice, team, "@bob see"), team) == ["bob"]
    assert told(post(alice, team, "@everyone see"), team) == ["bob"]
    assert told(post(alice, team, "@here see"), team) == ["bob"]


def test_everyone_does_not_ping_an_open_room(general, alice, bob):
    assert told(post(alice, general, "@everyone see"), general) == []
    assert told(post(alice, general, "@here see"), general) == []


def test_a_non_member_is_never_told_of_a_private_room(team, alice, carol):
    levels.set_level(carol.pk, team, "all")  # a row left from before a removal
    message = post(alice, team, "@carol @everyone secret")
    assert "carol" not in told(message, team)
    assert message["mentions"] == []  # a non-member is not even a mention


def test_a_removed_member_is_told_no_more(team, alice, bob):
    levels.set_level(bob.pk, team, "all")
    assert told(post(alice, team, "one"), team) == ["bob"]
    Membership.objects.filter(room=team, user=bob).delete()
    access.forget_membership(bob.pk, team.pk)
    assert told(post(alice, team, "two"), team) == []


def test_direct_conversation_tells_the_other_person_of_everything(alice, bob, carol):
    direct = access.direct_room(alice, bob)
    assert told(post(alice, direct, "hi"), direct) == ["bob"]
    assert told(post(bob, direct, "hi back"), direct) == ["alice"]
    levels.set_level(bob.pk, direct, "mentions")
    assert told(post(alice, direct, "hi again"), direct) == []
    assert told(post(alice, direct, "@bob hi"), direct) == ["bob"]


def test_notes_to_self_tell_nobody(alice):
    notes = access.direct_room(alice, alice)
    assert told(post(alice, notes, "remember"), notes) == []


def test_a_deleted_message_tells_nobody(general, alice, bob):
    message = post(alice, general, "@bob oops")
    messages.delete_message(messages.find(general.pk, message["id"]))
    assert told(message, general) == []


def test_an_inactive_user_is_not_told(general, alice, bob):
    bob.is_active = False
    bob.save()
    assert told(post(alice, general, "@bob"), general) == []


def test_only_a_choice_other_than_the_default_is_a_row(general, bob):
    levels.set_level(bob.pk, general, "none")
    assert NotificationLevel.objects.filter(user=bob).count() == 1
    assert levels.level_of(bob.pk, general) == "none"
    levels.set_level(bob.pk, general, "mentions")
    assert not NotificationLevel.objects.filter(user=bob).exists()
    assert levels.level_of(bob.pk, general) == "mentions"


def test_levels_of_many_rooms_in_one_go(general, team, bob):
    levels.set_level(bob.pk, general, "none")
    chosen = levels.levels_of(bob.pk, [general, team])
    assert chosen == {"general": "none", team.slug: "mentions"}


@pytest.mark.parametrize("bad", [None, "", "ALL", "loud", 1, ["all"], {"level": "all"}])
def test_a_level_must_be_one_of_the_three(bad):
    with pytest.raises(levels.Refused, match='"level" must be'):
        levels.SET_LEVEL.validate({"level": bad})


@pytest.mark.parametrize(
    "payload", [(), ("all",), ({"level": "all", "room": "general"},), ({}, {})]
)
def test_the_level_payload_is_exactly_one_object_with_a_level(payload):
    with pytest.raises(levels.Refused):
        levels.SET_LEVEL.validate(*payload)
