"""Things that must happen within a fixed time, checked by one sweeper.

A green thread per connection that sleeps out its deadline costs ~4 KB of
memory while it waits (measured with bench/run.py --scenarios idle-1room: 64.5 to
67.3 KB per connection with it, 60.8 to 61.8 KB without). Every key here gets
the same timeout, so keys added in time order are also in deadline order: one
queue, and one sweeper that only ever looks at its head.
"""

import time
from collections import deque


class Deadlines:
    """Keys in deadline order; ``due()`` hands out those whose time has come."""

    def __init__(self, seconds, clock=time.monotonic):
        if seconds <= 0:
            raise ValueError("a deadline needs a positive number of seconds")
        self.seconds = seconds
        self.clock = clock
        self._queue = deque()  # (deadline, key), oldest first

    def __len__(self):
        return len(self._queue)

    def add(self, key):
        self._queue.append((self.clock() + self.seconds, key))

    def due(self):
        """Remove and return the keys whose deadline has passed, oldest first."""
        now = self.clock()
        expired = []
        while self._queue and self._queue[0][0] <= now:
            expired.append(self._queue.popleft()[1])
        return expired

    def seconds_to_next(self):
        """How long the sweeper may sleep: until the oldest deadline, or a whole
        timeout when nothing waits (anything added later is due after that)."""
        if not self._queue:
            return self.seconds
        return max(self._queue[0][0] - self.clock(), 0.0)
