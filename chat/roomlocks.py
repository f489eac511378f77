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

No wait is unbounded, and no green thread waits for a lock it holds itself:

- A room's lock is waited for at most ``wait`` seconds; then ``RoomBusy`` is
  raised, which the handlers turn into an ack error or a refusal.
- Taking a room's lock again in the green thread that holds it raises
  ``LockReentered`` at once: it could only ever wait for itself. That used to
  freeze a room for good when python-engineio closed a timed-out client in the
  middle of a broadcast and the disconnect handler ran nested inside it (the
  server now defers such disconnects; this is the guard behind that rule).
"""

import logging
import threading
import time
from collections import defaultdict
from contextlib import contextmanager

from redis.exceptions import LockNotOwnedError

logger = logging.getLogger(__name__)

# Seconds a change of a room waits for the room's lock before giving up.
DEFAULT_WAIT = 5


class RoomBusy(Exception):
    """The room's lock was not free within the wait: the change is not made."""


class LockReentered(RuntimeError):
    """A green thread asked for a room lock it holds: it would wait for ever."""


class LocalRoomLocks:
    def __init__(self, wait=DEFAULT_WAIT):
        self.wait = wait
        # Rooms are few and long-lived, so their locks are simply kept.
        self._locks = defaultdict(threading.Lock)
        self._holders = {}  # room -> the thread (green thread) holding its lock

    def held_here(self):
        """The rooms whose lock the calling (green) thread holds."""
        me = threading.get_ident()
        return {room for room, holder in self._holders.items() if holder == me}

    @contextmanager
    def hold(self, room):
        self._take_local(room, time.monotonic() + self.wait)
        try:
            yield
        finally:
            self._release_local(room)

    def _take_local(self, room, deadline):
        me = threading.get_ident()
        if self._holders.get(room) == me:
            logger.error("room %s: a thread asked again for the lock it holds", room)
            raise LockReentered(f"room {room}: this thread already holds its lock")
        if not self._locks[room].acquire(timeout=max(deadline - time.monotonic(), 0)):
            logger.error("room %s stayed locked for %s s: change refused", room, self.wait)
            raise RoomBusy(f"room {room} stayed locked for {self.wait} s")
        self._holders[room] = me

    def _release_local(self, room):
        del self._holders[room]
        self._locks[room].release()


class RedisRoomLocks(LocalRoomLocks):
    """Room locks shared through Redis.

    ``timeout``: a lock left by a process that died is free again after it (the
    room's broadcasts wait that long at worst). ``wait``: how long to wait for
    the local and the Redis lock together before giving up with ``RoomBusy``.
    ``poll``: how often
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
        self,
        client,
        timeout=10,
        wait=DEFAULT_WAIT,
        poll=0.005,
        handover=0.05,
        prefix="d09:roomlock:",
    ):
        super().__init__(wait=wait)
        self.redis = client
        self.timeout = timeout
        self.poll = poll
        self.handover = handover
        self.prefix = prefix
        self._waiting = defaultdict(int)  # room -> this process's threads queued for it
        self._handed = {}  # room -> (redis lock, when taken): held for the next local waiter
        self._released_for_others = set()  # rooms released with local waiters queued

    @contextmanager
    def hold(self, room):
        deadline = time.monotonic() + self.wait
        self._waiting[room] += 1
        try:
            self._take_local(room, deadline)
        finally:
            self._waiting[room] -= 1
        try:
            handed = self._handed.pop(room, None)
            shared, taken = handed or (self._acquire(room, deadline), time.monotonic())
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
            self._release_local(room)

    def _acquire(self, room, deadline):
        if room in self._released_for_others:
            self._released_for_others.discard(room)
            time.sleep(self.poll * 2)  # other processes' waiters poll every `poll`
        shared = self.redis.lock(
            self.prefix + room,
            timeout=self.timeout,
            sleep=self.poll,
            blocking_timeout=max(deadline - time.monotonic(), self.poll),
            thread_local=False,
        )
        if not shared.acquire():
            logger.error("room %s stayed locked in Redis for %s s: change refused", room, self.wait)
            raise RoomBusy(f"room {room} stayed locked for {self.wait} s")
        return shared


def _release(lock, room):
    try:
        lock.release()
    except LockNotOwnedError:
        # Held longer than its timeout: another process may have taken it, and
        # the order of that moment's broadcasts is not guaranteed. Say so.
        logger.warning("the lock of room %s expired while held", room)
