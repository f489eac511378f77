"""The shared backend: broadcasts, presence and room locks through Redis (REDIS_URL).

Any number of processes (gunicorn workers, hosts) serve one chat with it. The
interface is described in chat/backends/base.py.
"""

import json
import logging
import os
import socket
import time
import uuid
from collections import defaultdict, deque
from contextlib import contextmanager

import redis
import socketio
from redis.exceptions import LockNotOwnedError, RedisError
from socketio.packet import Packet

from chat.backends.base import Backend, Change, RoomBusy
from chat.backends.memory import LocalRoomLocks
from d09.runtime.room_index import RoomIndexMixin

logger = logging.getLogger(__name__)


# A host_id that is no process's own: python-socketio's listener skips the
# messages its own process published, and this one must not be skipped.
EVERY_PROCESS = "*"


UNSENT_KEPT = 10_000  # broadcasts kept for a republish while Redis refuses them
CHANGES = ("message", "message_updated", "message_deleted")  # what a gap fill brings


class OrderedRedisManager(RoomIndexMixin, socketio.RedisManager):
    """RedisManager whose broadcasts reach this process's clients through Redis too.

    python-socketio's RedisManager hands an emit to the local clients at once and
    publishes it for the other processes. Process B's clients could then get
    B's message 11 before A's message 10, still on its way through Redis. Here
    an emit is only published, and every process, this one included, delivers
    what it reads from the channel: every client gets the channel's order.
    Costs one Redis round trip of latency for local clients.

    ``ignore_queue=True`` still means "this process's clients only, now" (used
    for a joiner's own history). Emits with an ack callback or binary data keep
    python-socketio's behaviour; the chat sends neither. A disconnect walks
    only its own rooms (d09.runtime.room_index).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Redis pub/sub forgets what is published while a subscriber reconnects
        # (a Redis restart): remember the newest message id delivered per room
        # and whether the subscription was renewed, so the upkeep can fill the
        # gap from the database (chat.background.resync_after_reconnect).
        self.last_delivered = {}
        # ... and the room's newest change number delivered (posts, edits,
        # deletes), so that the gap fill brings edits and deletes too.
        self.last_seq = {}
        self.resubscribed = False
        self._connects = 0
        # Broadcasts that Redis refused (python-socketio logs and drops them):
        # published again by the upkeep once Redis answers. The oldest go first
        # when it is full; those are in the database (pages get them back with
        # ``since`` at their next reconnect).
        self.unsent = deque(maxlen=UNSENT_KEPT)

    def _redis_connect(self):
        super()._redis_connect()
        self._connects += 1
        if self._connects > 1:
            self.resubscribed = True

    def _handle_emit(self, message):
        data = message.get("data") or [None]
        event, room = message.get("event"), message.get("room")
        if event in CHANGES and isinstance(data[0], dict) and isinstance(room, str):
            self.delivered(room, data[0], new=event == "message")
        return super()._handle_emit(message)

    def delivered(self, room, change, new):
        """``change`` (a message, or ``{"id", "seq"}`` of a delete) reached ``room``."""
        if new:
            self.last_delivered[room] = max(self.last_delivered.get(room, 0), change["id"])
        if isinstance(change.get("seq"), int):
            self.last_seq[room] = max(self.last_seq.get(room, 0), change["seq"])

    def take_resync(self):
        """``{room: (newest id, newest change number)}`` each got, once after
        every renewed subscription."""
        if not self.resubscribed or not self.pubsub.subscribed:
            return {}
        self.resubscribed = False
        rooms = set(self.last_delivered) | set(self.last_seq)
        return {
            room: (self.last_delivered.get(room, 0), self.last_seq.get(room, 0)) for room in rooms
        }

    def republish(self):
        """Publish again, oldest first, the broadcasts Redis refused; how many went."""
        sent = 0
        while self.unsent:
            if self._publish(self.unsent[0]) is None:
                break
            self.unsent.popleft()
            sent += 1
        return sent

    def emit(self, event, data, namespace=None, room=None, skip_sid=None, callback=None, **kwargs):
        payload = list(data) if isinstance(data, tuple) else [data]
        if kwargs.get("ignore_queue") or callback is not None or Packet.data_is_binary(payload):
            return super().emit(
                event, data, namespace, room=room, skip_sid=skip_sid, callback=callback, **kwargs
            )
        message = {
            "method": "emit",
            "event": event,
            "data": payload,
            "binary": False,
            "namespace": namespace or "/",
            "room": kwargs.get("to") or room,
            "skip_sid": skip_sid,
            "callback": None,
            "host_id": EVERY_PROCESS,
        }
        # python-socketio's _publish tries twice, logs, and returns None when
        # Redis refused: the line is stored and acked, so it must still go out.
        if self._publish(message) is None:
            self.unsent.append(message)


# The scripts run atomically in Redis, so two processes changing one room at
# the same moment cannot lose a count or both announce one leave. They build
# the room keys themselves from the connection's entry: fine on one Redis
# server (a Redis Cluster would need every key passed in KEYS).

# A room's list version: +1 per change of the list; a new key starts from the
# clock in milliseconds (chat.backends.base.first_version), so that a list
# rebuilt after a Redis restart never goes back to an old version.
_VERSION = """
local function version(key, changed)
  if redis.call('EXISTS', key) == 0 then
    local now = redis.call('TIME')
    redis.call('SET', key, now[1] * 1000 + math.floor(now[2] / 1000))
  end
  if changed then return redis.call('INCR', key) end
  return tonumber(redis.call('GET', key))
end
"""

# KEYS: conns of this process, room hash, room version.
# ARGV: sid, entry, user, keep seconds. Returns {connections of the user, version}.
_JOIN = (
    _VERSION
    + """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return -1 end
local n = redis.call('HINCRBY', KEYS[2], ARGV[3], 1)
local v = version(KEYS[3], n == 1)
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('EXPIRE', KEYS[3], ARGV[4])
return {n, v}
"""
)

# Shared by leave and reap: forget one connection entry, return {room, user, n, version}.
_FORGET = (
    _VERSION
    + """
local function forget(prefix, entry)
  local where = cjson.decode(entry)
  local key = prefix .. 'room:' .. where[1]
  local n = redis.call('HINCRBY', key, where[2], -1)
  if n <= 0 then redis.call('HDEL', key, where[2]) end
  return {where[1], where[2], n, version(prefix .. 'version:' .. where[1], n <= 0)}
end
"""
)

# KEYS: room hash, room version. Returns {names..., version} read together.
_SNAPSHOT = (
    _VERSION
    + """
local names = redis.call('HKEYS', KEYS[1])
names[#names + 1] = version(KEYS[2], false)
return names
"""
)

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
  for j = 1, 4 do out[#out + 1] = change[j] end
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
    - ``version:<room>``: the version of that room's list (+1 per change).
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
        self._unfinished_leaves = set()  # sids whose leave Redis did not take
        self._registered = False
        self._join = client.register_script(_JOIN)
        self._leave = client.register_script(_LEAVE)
        self._reap = client.register_script(_REAP)
        self._snapshot = client.register_script(_SNAPSHOT)

    def _key(self, kind, name=""):
        return f"{self.prefix}{kind}{name}"

    def _conns_key(self, process_id):
        return self._key("conns:", process_id)

    def _alive_key(self, process_id):
        return self._key("alive:", process_id)

    def join(self, sid, room, user):
        entry = json.dumps([room, user])
        keys = [
            self._conns_key(self.process_id),
            self._key("room:", room),
            self._key("version:", room),
        ]
        result = self._join(keys=keys, args=[sid, entry, user, self.keep])
        if result == -1:
            raise ValueError(f"connection {sid} is already in a room")
        count, version = result
        self._local[sid] = (room, user)
        return Change(room, user, changed=count == 1, joined=True, version=int(version))

    def leave(self, sid):
        """Forget a connection; None if it was not known (already left or reaped).

        If Redis fails here the connection is still gone from this process; its
        leave is made again by the next heartbeat, so the user does not stay in
        the list for ever."""
        self._local.pop(sid, None)
        try:
            result = self._leave(keys=[self._conns_key(self.process_id)], args=[sid, self.prefix])
        except RedisError:
            self._unfinished_leaves.add(sid)
            raise
        return _change(*result) if result else None

    def _finish_leaves(self):
        changes = []
        for sid in list(self._unfinished_leaves):
            result = self._leave(keys=[self._conns_key(self.process_id)], args=[sid, self.prefix])
            self._unfinished_leaves.discard(sid)
            if result:
                changes.append(_change(*result))
        return changes

    def users(self, room):
        return sorted(name.decode() for name in self.redis.hkeys(self._key("room:", room)))

    def count(self, room):
        """How many distinct users are connected to ``room``."""
        return self.redis.hlen(self._key("room:", room))

    def snapshot(self, room):
        """``(users(room), version)``, read together in one script."""
        *names, version = self._snapshot(
            keys=[self._key("room:", room), self._key("version:", room)]
        )
        return sorted(_text(name) for name in names), int(version)

    def connections(self, room, user):
        return int(self.redis.hget(self._key("room:", room), user) or 0)

    def heartbeat(self):
        """Prove this process alive; call it every ``ttl / 3`` seconds or so.

        If it was declared dead anyway (starved of CPU longer than ``ttl``),
        another process has reaped its connections: put them back, and return
        the resulting changes so that they get announced again. Leaves that
        Redis failed to take are made now, and returned as well.
        """
        pipe = self.redis.pipeline()
        pipe.set(self._alive_key(self.process_id), "1", ex=self.ttl)
        pipe.sadd(self._key("processes"), self.process_id)
        pipe.expire(self._key("processes"), self.keep)
        pipe.expire(self._conns_key(self.process_id), self.keep)
        for room in {room for room, _user in self._local.values()}:
            pipe.expire(self._key("room:", room), self.keep)
            pipe.expire(self._key("version:", room), self.keep)
        added = pipe.execute()[1]
        reaped = added and self._registered
        self._registered = True
        changes = self._rejoin_all() if reaped else []
        return changes + self._finish_leaves()

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
            changes += [_change(*flat[i : i + 4]) for i in range(0, len(flat), 4)]
        return changes


def _text(value):
    return value.decode() if isinstance(value, bytes) else value


def _change(room, user, remaining, version):
    return Change(_text(room), _text(user), changed=int(remaining) <= 0, version=int(version))


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
        wait=5,
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
    """Release a room's Redis lock; never raise: what it guarded is done (a
    message stored and published must be acked as such), and a lock that
    could not be released frees itself after its timeout."""
    try:
        lock.release()
    except LockNotOwnedError:
        # Held longer than its timeout: another process may have taken it, and
        # the order of that moment's broadcasts is not guaranteed. Say so.
        logger.warning("the lock of room %s expired while held", room)
    except RedisError as error:
        logger.warning(
            "could not release the lock of room %s (%s): it expires by itself", room, error
        )


def create(settings):
    # Timeouts: a Redis that stops answering must fail requests, not hang them.
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=10, socket_connect_timeout=5, health_check_interval=30
    )
    ttl = settings.PRESENCE_TTL
    return Backend(
        presence=RedisPresence(client, ttl=ttl),
        locks=RedisRoomLocks(client, wait=settings.ROOM_LOCK_WAIT),
        manager=OrderedRedisManager(settings.REDIS_URL, channel="d09:socketio"),
        # Heartbeats (and reaps) well within the presence TTL.
        upkeep_interval=min(5, ttl / 3),
    )
