"""Room locks (chat/backends): one change of a room at a time, across processes (real Redis)."""

import logging
import threading
import time

import pytest

from chat.backends.base import LockReentered, RoomBusy
from chat.backends.memory import LocalRoomLocks
from chat.backends.redis import RedisRoomLocks
from tests.support.server import wait_until


def test_local_lock_is_per_room():
    locks = LocalRoomLocks()
    with locks.hold("general"):
        assert locks._locks["general"].locked()
        assert not locks._locks["cats"].locked()
    assert not locks._locks["general"].locked()


@pytest.fixture(params=["local", "redis"])
def any_locks(request):
    """Both kinds of room locks, with a short wait."""
    if request.param == "local":
        return LocalRoomLocks(wait=0.3)
    return RedisRoomLocks(request.getfixturevalue("redis_service").fresh(), wait=0.3)


def test_asking_again_for_a_held_lock_fails_at_once_instead_of_waiting_for_itself(any_locks):
    started = time.monotonic()
    with any_locks.hold("general"):
        assert any_locks.held_here() == {"general"}
        with pytest.raises(LockReentered), any_locks.hold("general"):
            pass
        with any_locks.hold("cats"):  # other rooms are other locks
            assert any_locks.held_here() == {"general", "cats"}
    assert time.monotonic() - started < 0.2
    assert any_locks.held_here() == set()
    with any_locks.hold("general"):  # and the lock is free again afterwards
        pass


def test_a_lock_held_elsewhere_is_waited_for_a_bounded_time(any_locks):
    taken, release = threading.Event(), threading.Event()

    def holder():
        with any_locks.hold("general"):
            taken.set()
            release.wait(5)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        taken.wait(5)
        assert any_locks.held_here() == set()  # held by the other thread, not this one
        started = time.monotonic()
        with pytest.raises(RoomBusy), any_locks.hold("general"):
            pass
        assert 0.25 < time.monotonic() - started < 1.5
    finally:
        release.set()
        thread.join()
    with any_locks.hold("general"):
        pass


def test_redis_lock_excludes_other_processes_room_by_room(redis_service):
    client = redis_service.fresh()
    one, other = RedisRoomLocks(client), RedisRoomLocks(client, wait=0.3)
    with one.hold("general"):
        with pytest.raises(RoomBusy), other.hold("general"):
            pass
        with other.hold("cats"):
            pass
    with other.hold("general"):
        pass
    assert client.keys("d09:roomlock:*") == []


def test_a_lock_that_expired_while_held_is_logged(redis_service, caplog):
    client = redis_service.fresh()
    locks = RedisRoomLocks(client, timeout=0.2)
    with caplog.at_level(logging.WARNING, logger="chat.backends.redis"), locks.hold("general"):
        wait_until(lambda: not client.exists("d09:roomlock:general"), message="expiry")
    assert "expired while held" in caplog.text


def redis_lock_takes(client):
    """How many times a Redis lock was asked for (SET NX), from Redis' own counters."""
    return client.info("commandstats").get("cmdstat_set", {}).get("calls", 0)


def hold_in_turn(locks, room, count, inside=0.01):
    """``count`` threads of one process queue for ``room``; each holds it ``inside`` s."""
    done = []

    def one():
        with locks.hold(room):
            time.sleep(inside)
            done.append(1)

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads, done


def lock_takes_for_a_queue(client, handover, waiters):
    """One change holds the room while ``waiters`` queue behind it in this process;
    returns how many times the Redis lock was taken and how many waiters ran."""
    locks = RedisRoomLocks(client, handover=handover)
    before = redis_lock_takes(client)
    with locks.hold("general"):
        threads, done = hold_in_turn(locks, "general", waiters)
        wait_until(lambda: locks._waiting["general"] == waiters, message=f"{waiters} waiters")
    for thread in threads:
        thread.join()
    return redis_lock_takes(client) - before, len(done)


def test_a_busy_room_hands_the_redis_lock_to_the_next_local_waiter(redis_service):
    client = redis_service.fresh()
    # One take for six changes in a row.
    assert lock_takes_for_a_queue(client, handover=5, waiters=5) == (1, 5)
    assert client.keys("d09:roomlock:*") == []  # released after the last one


def test_without_handover_every_change_takes_the_lock(redis_service):
    client = redis_service.fresh()
    assert lock_takes_for_a_queue(client, handover=0, waiters=3) == (4, 3)


def test_another_process_gets_its_turn_in_a_room_kept_busy_here(redis_service):
    client = redis_service.fresh()
    busy, other = RedisRoomLocks(client, handover=0.05), RedisRoomLocks(client, wait=1)
    stop = threading.Event()

    def keep_busy():
        while not stop.is_set():
            threads, _ = hold_in_turn(busy, "general", 4, inside=0.005)
            for thread in threads:
                thread.join()

    feeders = [threading.Thread(target=keep_busy) for _ in range(3)]
    for feeder in feeders:
        feeder.start()
    try:
        wait_until(lambda: busy._waiting["general"] > 0, message="a queue here")
        started = time.monotonic()
        with other.hold("general"):  # RoomBusy after 1 s if it starves
            waited = time.monotonic() - started
    finally:
        stop.set()
        for feeder in feeders:
            feeder.join()
    assert waited < 1
    assert client.keys("d09:roomlock:*") == []


def test_a_release_that_redis_fails_does_not_undo_what_was_done(own_redis, caplog):
    """A message stored and published under the lock must be acked as stored,
    even if Redis goes away before the lock is released (it expires by itself)."""
    import redis as redis_client

    locks = RedisRoomLocks(redis_client.Redis.from_url(own_redis.url(), socket_timeout=1), wait=1)
    done = []
    with caplog.at_level(logging.WARNING, logger="chat.backends.redis"), locks.hold("general"):
        done.append("stored")
        own_redis.down()
    assert done == ["stored"]
    assert "expires by itself" in caplog.text
