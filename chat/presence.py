"""Who is connected to which room, counted per connection.

A user with two tabs open in one room is one entry of the user list: they
"join" when their first connection arrives and "leave" when the last one
closes. Rooms are isolated from each other.

Two stores share one interface:

- ``InMemoryPresence``: one process (the embedded default).
- ``RedisPresence``: every process of a deployment (``REDIS_URL``). Each process
  proves it is alive with ``heartbeat()``; ``reap()``, called by every process
  now and then, removes the connections of processes that stopped proving it
  (kill -9, a lost host) and returns what that changed, to be announced.

Both have ``join(sid, room, user) -> Change``, ``leave(sid) -> Change | None``,
``users(room) -> sorted names``, ``connections(room, user) -> int``,
``heartbeat() -> [Change]``, ``reap() -> [Change]`` and ``retire()``.
"""

import json
import os
import socket
import uuid
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

    def heartbeat(self):
        """Nothing to prove: this process is the only one."""
        return []

    def reap(self):
        """No other process can die and leave connections behind."""
        return []

    def retire(self):
        """Nothing to hand over when the process stops."""


# The scripts run atomically in Redis, so two processes changing one room at
# the same moment cannot lose a count or both announce one leave. They build
# the room keys themselves from the connection's entry: fine on one Redis
# server (a Redis Cluster would need every key passed in KEYS).

# KEYS: conns of this process, room hash. ARGV: sid, entry, user, keep seconds.
_JOIN = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return -1 end
local n = redis.call('HINCRBY', KEYS[2], ARGV[3], 1)
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return n
"""

# Shared by leave and reap: forget one connection entry, return {room, user, n}.
_FORGET = """
local function forget(prefix, entry)
  local where = cjson.decode(entry)
  local key = prefix .. 'room:' .. where[1]
  local n = redis.call('HINCRBY', key, where[2], -1)
  if n <= 0 then redis.call('HDEL', key, where[2]) end
  return {where[1], where[2], n}
end
"""

# KEYS: conns of this process. ARGV: sid, key prefix.
_LEAVE = (
    _FORGET
    + """
local entry = redis.call('HGET', KEYS[1], ARGV[1])
if not entry then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
return forget(ARGV[2], entry)
"""
)

# KEYS: process set, conns of the dead process, its alive key.
# ARGV: its id, key prefix. Only the process that removes it from the set
# reaps it, so its users leave once.
_REAP = (
    _FORGET
    + """
if redis.call('EXISTS', KEYS[3]) == 1 then return {} end
if redis.call('SREM', KEYS[1], ARGV[1]) == 0 then return {} end
local entries = redis.call('HGETALL', KEYS[2])
redis.call('DEL', KEYS[2])
local out = {}
for i = 2, #entries, 2 do
  local change = forget(ARGV[2], entries[i])
  out[#out + 1] = change[1]
  out[#out + 1] = change[2]
  out[#out + 1] = change[3]
end
return out
"""
)


def new_process_id():
    """Unique per process start, readable in Redis (host and pid)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class RedisPresence:
    """Presence shared by all processes through Redis.

    Keys, under ``prefix``:

    - ``room:<room>``: hash user -> connections, all processes together.
    - ``conns:<process>``: hash sid -> ``[room, user]``, one process's connections.
    - ``alive:<process>``: exists while the process heartbeats (expires after
      ``ttl`` seconds without one).
    - ``processes``: the processes that may still own connections.

    Everything but ``alive:`` expires after ``keep`` seconds without a refresh,
    so a deployment that is gone for good leaves nothing behind.
    """

    def __init__(self, client, process_id=None, ttl=15, keep=24 * 3600, prefix="d09:presence:"):
        self.redis = client
        self.process_id = process_id or new_process_id()
        self.ttl = ttl
        self.keep = keep
        self.prefix = prefix
        self._local = {}  # sid -> (room, user): this process's connections
        self._registered = False
        self._join = client.register_script(_JOIN)
        self._leave = client.register_script(_LEAVE)
        self._reap = client.register_script(_REAP)

    def _key(self, kind, name=""):
        return f"{self.prefix}{kind}{name}"

    def _conns_key(self, process_id):
        return self._key("conns:", process_id)

    def _alive_key(self, process_id):
        return self._key("alive:", process_id)

    def join(self, sid, room, user):
        entry = json.dumps([room, user])
        keys = [self._conns_key(self.process_id), self._key("room:", room)]
        count = self._join(keys=keys, args=[sid, entry, user, self.keep])
        if count == -1:
            raise ValueError(f"connection {sid} is already in a room")
        self._local[sid] = (room, user)
        return Change(room, user, changed=count == 1)

    def leave(self, sid):
        """Forget a connection; None if it was not known (already left or reaped)."""
        self._local.pop(sid, None)
        result = self._leave(keys=[self._conns_key(self.process_id)], args=[sid, self.prefix])
        return _change(*result) if result else None

    def users(self, room):
        return sorted(name.decode() for name in self.redis.hkeys(self._key("room:", room)))

    def connections(self, room, user):
        return int(self.redis.hget(self._key("room:", room), user) or 0)

    def heartbeat(self):
        """Prove this process alive; call it every ``ttl / 3`` seconds or so.

        If it was declared dead anyway (starved of CPU longer than ``ttl``),
        another process has reaped its connections: put them back, and return
        the resulting changes so that they get announced again.
        """
        pipe = self.redis.pipeline()
        pipe.set(self._alive_key(self.process_id), "1", ex=self.ttl)
        pipe.sadd(self._key("processes"), self.process_id)
        pipe.expire(self._key("processes"), self.keep)
        pipe.expire(self._conns_key(self.process_id), self.keep)
        for room in {room for room, _user in self._local.values()}:
            pipe.expire(self._key("room:", room), self.keep)
        added = pipe.execute()[1]
        reaped = added and self._registered
        self._registered = True
        return self._rejoin_all() if reaped else []

    def retire(self):
        """Declare this process gone (it is stopping): the next reap by another
        process removes its connections, without waiting for ``ttl``."""
        self.redis.delete(self._alive_key(self.process_id))

    def _rejoin_all(self):
        connections, self._local = self._local, {}
        return [self.join(sid, room, user) for sid, (room, user) in connections.items()]

    def reap(self):
        """Remove the connections of every dead process; the changes, in order."""
        changes = []
        for member in self.redis.smembers(self._key("processes")):
            process_id = member.decode()
            if process_id == self.process_id or self.redis.exists(self._alive_key(process_id)):
                continue
            keys = [
                self._key("processes"),
                self._conns_key(process_id),
                self._alive_key(process_id),
            ]
            flat = self._reap(keys=keys, args=[process_id, self.prefix])
            changes += [_change(*flat[i : i + 3]) for i in range(0, len(flat), 3)]
        return changes


def _text(value):
    return value.decode() if isinstance(value, bytes) else value


def _change(room, user, remaining):
    return Change(_text(room), _text(user), changed=int(remaining) <= 0)
