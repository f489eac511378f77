"""What every chat backend provides (chat/backends/memory.py, chat/backends/redis.py).

A backend holds what the processes of one deployment must agree on:

- **presence**: who is connected to which room, counted per connection, so
  that a user with two tabs is one entry of the list and "joins" with the first
  connection, "leaves" with the last. Each room's list has a version that
  grows by one with every change of the list (it starts from the clock, so
  that a list rebuilt after a restart never goes back to an old version), so
  that a client applying ``joined``/``left`` can tell it missed one. Methods:
  ``join(sid, room, user) -> Change``, ``leave(sid) -> Change | None``,
  ``users(room) -> sorted names``, ``count(room) -> int``,
  ``snapshot(room) -> (sorted names, version)``,
  ``connections(room, user) -> int``, ``heartbeat() -> [Change]`` (prove this
  process alive; the changes of re-joining if it had been reaped), ``reap() ->
  [Change]`` (remove the connections of dead processes) and ``retire()`` (this
  process is stopping).
- **room locks**: ``hold(room)``, a context manager under which one change of a
  room and its broadcast happen, one at a time across every process, so that
  every client of a room sees the same sequence. A wait is bounded (``RoomBusy``
  after ``wait`` seconds) and a green thread that asks again for a lock it holds
  gets ``LockReentered`` at once; ``held_here()`` names the rooms the calling
  thread holds.
- **manager**: python-socketio's client manager, or None for its in-process one.
"""

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Backend:
    presence: object  # the presence store
    locks: object  # the room locks
    manager: object = None  # a socketio.Manager; None: python-socketio's in-process one
    # Seconds between heartbeats and reaps of the presence (several processes).
    upkeep_interval: float = 5

    @property
    def multi_process(self):
        return self.manager is not None


@dataclass(frozen=True)
class Change:
    """What a join or a leave did to a room's user list."""

    room: str
    user: str
    changed: bool  # True when the user appeared in / vanished from the list
    joined: bool = False  # a join (True) or a leave (False)
    version: int = 0  # the room list's version after this change

    @property
    def event(self):
        """The event that tells a room of this change."""
        return "joined" if self.joined else "left"


def first_version():
    """Where a room's list version starts: milliseconds of the clock, above any
    version a list of the same room reached before a restart (a list changes far
    less than once a millisecond on average)."""
    return int(time.time() * 1000)


class RoomBusy(Exception):
    """The room's lock was not free within the wait: the change is not made."""


class LockReentered(RuntimeError):
    """A green thread asked for a room lock it holds: it would wait for ever."""
