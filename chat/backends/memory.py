"""The embedded backend: one process, everything in memory (REDIS_URL unset).

Exactly one process may serve the chat with it: presence and room locks live in
the process, and python-socketio's own in-process manager delivers broadcasts.
The interface is described in chat/backends/base.py.
"""

import logging
import threading
import time
from collections import defaultdict
from contextlib import contextmanager

from chat.backends.base import Backend, Change, LockReentered, RoomBusy, first_version

logger = logging.getLogger(__name__)


class InMemoryPresence:
    """Presence for one process (the embedded default)."""

    def __init__(self):
        self._where = {}  # connection id -> (room, user)
        self._counts = defaultdict(lambda: defaultdict(int))  # room -> user -> connections
        self._versions = defaultdict(first_version)  # room -> version of its list

    def _changed(self, room, changed):
        if changed:
            self._versions[room] += 1
        return self._versions[room]

    def join(self, sid, room, user):
        if sid in self._where:
            raise ValueError(f"connection {sid} is already in a room")
        self._where[sid] = (room, user)
        self._counts[room][user] += 1
        changed = self._counts[room][user] == 1
        version = self._changed(room, changed)
        return Change(room, user, changed=changed, joined=True, version=version)

    def leave(self, sid):
        """Forget a connection; None if it was not known (already left)."""
        try:
            room, user = self._where.pop(sid)
        except KeyError:
            return None
        users = self._counts[room]
        users[user] -= 1
        gone = users[user] == 0
        if gone:
            del users[user]
            if not users:
                del self._counts[room]
        return Change(room, user, changed=gone, version=self._changed(room, gone))

    def users(self, room):
        """The sorted distinct usernames connected to ``room``."""
        return sorted(self._counts.get(room, ()))

    def count(self, room):
        """How many distinct users are connected to ``room``."""
        return len(self._counts.get(room, ()))

    def snapshot(self, room):
        """``(users(room), version)``, read together."""
        return self.users(room), self._versions[room]

    def connections(self, room, user):
        return self._counts.get(room, {}).get(user, 0)

    def heartbeat(self):
        """Nothing to prove: this process is the only one."""
        return []

    def reap(self):
        """No other process can die and leave connections behind."""
        return []

    def retire(self):
        """Nothing to hand over when the process stops."""


class LocalRoomLocks:
    """A green lock per room (threading is monkey-patched by the eventlet and
    gevent workers): one change of a room at a time, in this process.

    Everything that changes what a room's clients see (a stored message, a
    join, a leave) happens under the room's lock together with its broadcast,
    so the broadcasts of a room leave in the order of the changes: messages in
    id order (the id is taken under the lock), user lists in the order they
    were read. No wait is unbounded (``RoomBusy`` after ``wait`` seconds), and
    a thread that asks again for a lock it holds gets ``LockReentered`` at once
    instead of waiting for itself: that wait once froze rooms for good, when
    python-engineio closed a timed-out client in the middle of a broadcast and
    the disconnect handler ran nested inside it (d09/runtime/server.py).
    """

    def __init__(self, wait=5):
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


def create(settings):
    return Backend(presence=InMemoryPresence(), locks=LocalRoomLocks(wait=settings.ROOM_LOCK_WAIT))
