"""chat.presence: who is in which room, counted per connection."""

import pytest

from chat.presence import Change, InMemoryPresence


@pytest.fixture
def presence():
    return InMemoryPresence()


def test_first_connection_joins_and_last_one_leaves(presence):
    assert presence.join("s1", "general", "alice") == Change("general", "alice", changed=True)
    assert presence.users("general") == ["alice"]
    assert presence.leave("s1") == Change("general", "alice", changed=True)
    assert presence.users("general") == []


def test_two_tabs_of_one_user_are_one_entry(presence):
    presence.join("tab1", "general", "alice")
    second = presence.join("tab2", "general", "alice")
    assert second.changed is False
    assert presence.users("general") == ["alice"]
    assert presence.leave("tab1").changed is False
    assert presence.users("general") == ["alice"]
    assert presence.leave("tab2").changed is True
    assert presence.users("general") == []


def test_users_are_sorted_and_distinct(presence):
    for sid, user in [("1", "carol"), ("2", "alice"), ("3", "bob"), ("4", "alice")]:
        presence.join(sid, "general", user)
    assert presence.users("general") == ["alice", "bob", "carol"]


def test_rooms_are_isolated(presence):
    presence.join("s1", "general", "alice")
    presence.join("s2", "cats", "bob")
    presence.join("s3", "cats", "alice")
    assert presence.users("general") == ["alice"]
    assert presence.users("cats") == ["alice", "bob"]
    assert presence.leave("s3").changed is True  # alice left cats, still in general
    assert presence.users("general") == ["alice"]
    assert presence.users("cats") == ["bob"]


def test_leaving_twice_or_unknown_is_harmless(presence):
    presence.join("s1", "general", "alice")
    presence.leave("s1")
    assert presence.leave("s1") is None
    assert presence.leave("never-seen") is None
    assert presence.users("general") == []


def test_a_connection_is_in_one_room_only(presence):
    presence.join("s1", "general", "alice")
    with pytest.raises(ValueError):
        presence.join("s1", "cats", "alice")
