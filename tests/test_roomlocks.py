"""chat.roomlocks: one change of a room at a time, across processes (real Redis)."""

import logging

import pytest
from redis.exceptions import LockError

from chat.roomlocks import LocalRoomLocks, RedisRoomLocks
from tests.support.server import wait_until


def test_local_lock_is_per_room():
    locks = LocalRoomLocks()
    with locks.hold("general"):
        assert locks._locks["general"].locked()
        assert not locks._locks["cats"].locked()
    assert not locks._locks["general"].locked()


def test_redis_lock_excludes_other_processes_room_by_room(redis_service):
    client = redis_service.fresh()
    one, other = RedisRoomLocks(client), RedisRoomLocks(client, wait=0.3)
    with one.hold("general"):
        with pytest.raises(LockError), other.hold("general"):
            pass
        with other.hold("cats"):
            pass
    with other.hold("general"):
        pass
    assert client.keys("d09:roomlock:*") == []


def test_a_lock_that_expired_while_held_is_logged(redis_service, caplog):
    client = redis_service.fresh()
    locks = RedisRoomLocks(client, timeout=0.2)
    with caplog.at_level(logging.WARNING, logger="chat.roomlocks"), locks.hold("general"):
        wait_until(lambda: not client.exists("d09:roomlock:general"), message="expiry")
    assert "expired while held" in caplog.text
