"""One room's changes, one at a time, in every process.

Everything that changes what a room's clients see (a stored message, a join, a
leave) happens under the room's lock together with its broadcast. So the
broadcasts of a room are published in the order of the changes: messages in
id order (the id is taken under the lock), user lists in the order they were
read. With several processes the broadcasts go through one Redis channel that
delivers them to every process in publish order (see chat.shared), so every
client of a room sees the same sequence.

- ``LocalRoomLocks``: a green lock per room (threading is monkey-patched by the
  eventlet and gevent workers); enough for one process.
- ``RedisRoomLocks``: the local lock, then a Redis lock shared by all
  processes. The local lock first keeps the green threads of one process from
  all polling Redis.
"""

import logging
import threading
import time
from collections import defaultdict
from contextlib import contextmanager

from redis.exceptions import LockError, LockNotOwnedError

logger = logging.getLogger(__name__)


class LocalRoomLocks:
    def __init__(self):
        # Rooms are few and long-lived, so their locks are simply kept.
        self._locks = defaultdict(threading.Lock)

    @contextmanager
    def hold(self, room):
        with self._locks[room]:
            yield


class RedisRoomLocks(LocalRoomLocks):
    """Room locks shared through Redis.

    ``timeout``: a lock left by a process that died is free again after it (the
    room's broadcasts wait that long at worst). ``wait``: how long to wait for
    a lock before giving up with redis.exceptions.LockError. ``poll``: how often
    a waiter retries (redis-py polls; its default of 0.1 s would add latency).

    ``handover``: taking and releasing the Redis lock are two round trips, each
    waiting for a busy event loop to come back to it, and a busy room's changes
    pass one at a time. So when green threads of this process are already
    queued for the room, the lock is handed to the next one without a release,
    for at most ``handover`` seconds in a row; then it is released, and the next
    local waiter lets ``poll`` pass before asking again, so that other
    processes get their turn.
    """

    def __init__(
        self, client, timeout=10, wait=20, poll=0.005, handover=0.05, prefix="d09:roomlock:"
    ):
        super().__init__()
        self.redis = client
        self.timeout = timeout
        self.wait = wait
        self.poll = poll
        self.handover = handover
        self.prefix = prefix
        self._waiting = defaultdict(int)  # room -> this process's threads queued for it
        self._handed = {}  # room -> (redis lock, when taken): held for the next local waiter
        self._released_for_others = set()  # rooms released with local waiters queued

    @contextmanager
    def hold(self, room):
        local = self._locks[room]
        self._waiting[room] += 1
        try:
            local.acquire()
        finally:
            self._waiting[room] -= 1
        try:
            shared, taken = self._handed.pop(room, None) or (self._acquire(room), time.monotonic())
            try:
                yield
            finally:
                if self._waiting[room] and time.monotonic() - taken < self.handover:
                    # The waiter takes it on its way in. A waiter killed before
                    # that leaves it to the room's next change here, or to its
                    # Redis timeout for the other processes.
                    self._handed[room] = (shared, taken)
                else:
                    if self._waiting[room]:
                        self._released_for_others.add(room)
                    _release(shared, room)
        finally:
            local.release()

    def _acquire(self, room):
        if room in self._released_for_others:
            self._released_for_others.discard(room)
            time.sleep(self.poll * 2)  # other processes' waiters poll every `poll`
        shared = self.redis.lock(
            self.prefix + room,
            timeout=self.timeout,
            sleep=self.poll,
            blocking_timeout=self.wait,
            thread_local=False,
        )
        if not shared.acquire():
            raise LockError(f"room {room} stayed locked for {self.wait} s")
        return shared


def _release(lock, room):
    try:
        lock.release()
    except LockNotOwnedError:
        # Held longer than its timeout: another process may have taken it, and
        # the order of that moment's broadcasts is not guaranteed. Say so.
        logger.warning("the lock of room %s expired while held", room)
