"""Both presence stores behind one interface; the Redis one on a real redis-server.

Each RedisPresence stands for one process; two of them on one Redis database
are two processes of one deployment.
"""

from dataclasses import replace

import pytest

from chat.backends.base import Change
from chat.backends.memory import InMemoryPresence
from chat.backends.redis import RedisPresence
from tests.support.server import wait_until


def without_version(changes):
    """Changes compared on what they say about the list, not its version."""
    if changes is None or isinstance(changes, Change):
        return changes and replace(changes, version=0)
    return [replace(change, version=0) for change in changes]


@pytest.fixture(params=["memory", "redis"])
def presence(request):
    if request.param == "memory":
        return InMemoryPresence()
    store = RedisPresence(request.getfixturevalue("redis_service").fresh())
    store.heartbeat()
    return store


@pytest.fixture
def redis_client(redis_service):
    return redis_service.fresh()


def process(client, ttl=15):
    """One process's presence, registered (as its first heartbeat does)."""
    store = RedisPresence(client, ttl=ttl)
    store.heartbeat()
    return store


def test_join_and_leave_change_the_list(presence):
    joined = presence.join("s1", "general", "alice")
    assert without_version(without_version(joined)) == Change(
        "general", "alice", changed=True, joined=True
    )
    assert joined.event == "joined"
    assert presence.users("general") == ["alice"]
    left = presence.leave("s1")
    assert without_version(without_version(left)) == Change("general", "alice", changed=True)
    assert left.event == "left"
    assert presence.users("general") == []


def test_connections_are_counted_per_user(presence):
    presence.join("tab1", "general", "alice")
    assert presence.join("tab2", "general", "alice").changed is False
    assert presence.connections("general", "alice") == 2
    assert presence.leave("tab1").changed is False
    assert presence.users("general") == ["alice"]
    assert presence.leave("tab2").changed is True
    assert presence.connections("general", "alice") == 0


def test_rooms_are_isolated_and_lists_sorted(presence):
    presence.join("s1", "general", "carol")
    presence.join("s2", "general", "alice")
    presence.join("s3", "cats", "bob")
    assert presence.users("general") == ["alice", "carol"]
    assert presence.users("cats") == ["bob"]
    assert presence.users("random") == []


def test_unknown_or_second_leave_is_none(presence):
    assert presence.leave("nobody") is None
    presence.join("s1", "general", "alice")
    presence.leave("s1")
    assert presence.leave("s1") is None


def test_a_connection_joins_once(presence):
    presence.join("s1", "general", "alice")
    with pytest.raises(ValueError):
        presence.join("s1", "cats", "alice")


def test_nothing_to_reap_while_everyone_lives(presence):
    presence.join("s1", "general", "alice")
    assert presence.heartbeat() == []
    assert presence.reap() == []
    assert presence.users("general") == ["alice"]


def test_processes_share_users_and_counts(redis_client):
    one, two = process(redis_client), process(redis_client)
    assert one.join("a1", "general", "alice").changed is True
    assert two.join("a2", "general", "alice").changed is False
    assert two.join("b1", "general", "bob").changed is True
    assert one.users("general") == two.users("general") == ["alice", "bob"]
    assert one.leave("a1").changed is False
    assert without_version(two.leave("a2")) == Change("general", "alice", changed=True)
    assert one.users("general") == ["bob"]


def test_a_process_leaves_only_its_own_connections(redis_client):
    one, two = process(redis_client), process(redis_client)
    one.join("s1", "general", "alice")
    assert two.leave("s1") is None
    assert one.users("general") == ["alice"]


def test_dead_process_is_reaped_once_after_its_ttl(redis_client):
    dying, survivor, other = (process(redis_client, ttl=1) for _ in range(3))
    dying.join("a1", "general", "alice")
    dying.join("a2", "general", "alice")
    dying.join("c1", "cats", "carol")
    survivor.join("b1", "general", "bob")
    survivor.join("c2", "cats", "carol")

    def reaped():
        survivor.heartbeat()
        other.heartbeat()
        return survivor.reap()

    # No sleep: the dying process simply stops heartbeating and its key expires.
    changes = wait_until(reaped, timeout=10, message="the dead process reaped")
    assert sorted(without_version(changes), key=repr) == sorted(
        [
            Change("general", "alice", changed=False),
            Change("general", "alice", changed=True),
            Change("cats", "carol", changed=False),
        ],
        key=repr,
    )
    assert other.reap() == []  # another survivor finds nothing left to announce
    assert survivor.users("general") == ["bob"]
    assert survivor.users("cats") == ["carol"]
    assert not redis_client.exists(dying._conns_key(dying.process_id))


def test_a_process_declared_dead_by_mistake_comes_back(redis_client):
    starved, survivor = process(redis_client, ttl=1), process(redis_client)
    starved.join("a1", "general", "alice")
    left = wait_until(survivor.reap, timeout=10, message="the starved process reaped")
    assert without_version(left) == [Change("general", "alice", changed=True)]
    assert survivor.users("general") == []
    # Its next heartbeat notices and puts its connections back.
    assert without_version(starved.heartbeat()) == [
        Change("general", "alice", changed=True, joined=True)
    ]
    assert survivor.users("general") == ["alice"]
    assert without_version(starved.leave("a1")) == Change("general", "alice", changed=True)


def test_every_key_expires_unless_refreshed(redis_client):
    store = process(redis_client)
    store.join("s1", "general", "alice")
    keys = redis_client.keys("d09:presence:*")
    assert len(keys) == 5  # alive, processes, conns, room, version
    for key in keys:
        assert 0 < redis_client.ttl(key) <= store.keep, key
    assert redis_client.ttl(store._alive_key(store.process_id)) <= store.ttl


def test_a_retired_process_is_reaped_at_once(redis_client):
    stopping, survivor = process(redis_client), process(redis_client)
    stopping.join("a1", "general", "alice")
    stopping.retire()
    assert without_version(survivor.reap()) == [Change("general", "alice", changed=True)]


def test_retiring_changes_nothing_the_process_itself_still_serves(presence):
    # A stopping worker retires first and serves its last moments: its own
    # connections stay counted (only another process's reap removes them).
    presence.join("s1", "general", "alice")
    presence.retire()
    assert presence.users("general") == ["alice"]
    assert without_version(presence.leave("s1")) == Change("general", "alice", changed=True)


def test_the_list_version_grows_by_one_with_each_change_and_only_then(presence):
    first = presence.join("a1", "general", "alice")
    assert presence.snapshot("general") == (["alice"], first.version)
    second_tab = presence.join("a2", "general", "alice")  # no change of the list
    assert second_tab.version == first.version
    bob = presence.join("b1", "general", "bob")
    assert bob.version == first.version + 1
    assert presence.leave("a1").version == bob.version  # alice is still there
    alice_gone = presence.leave("a2")
    assert alice_gone.version == bob.version + 1
    assert presence.snapshot("general") == (["bob"], alice_gone.version)
    # Rooms have versions of their own.
    assert presence.join("c1", "cats", "carol").changed


def test_a_new_list_starts_from_the_clock_so_it_never_goes_back(presence):
    version = presence.join("a1", "general", "alice").version
    assert version > 1_700_000_000_000  # milliseconds since 1970
