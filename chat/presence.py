"""Who is connected to which room, counted per connection.

A user with two tabs open in one room is one entry of the user list: they
"join" when their first connection arrives and "leave" when the last one
closes. Rooms are isolated from each other.
"""

from collections import defaultdict
from dataclasses import dataclass


@dataclass(frozen=True)
class Change:
    """What a join or a leave did to a room's user list."""

    room: str
    user: str
    changed: bool  # True when the user appeared in / vanished from the list


class InMemoryPresence:
    """Presence for one process (the embedded default)."""

    def __init__(self):
        self._where = {}  # connection id -> (room, user)
        self._counts = defaultdict(lambda: defaultdict(int))  # room -> user -> connections

    def join(self, sid, room, user):
        if sid in self._where:
            raise ValueError(f"connection {sid} is already in a room")
        self._where[sid] = (room, user)
        self._counts[room][user] += 1
        return Change(room, user, changed=self._counts[room][user] == 1)

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
        return Change(room, user, changed=gone)

    def users(self, room):
        """The sorted distinct usernames connected to ``room``."""
        return sorted(self._counts.get(room, ()))

    def connections(self, room, user):
        return self._counts.get(room, {}).get(user, 0)
