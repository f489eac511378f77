"""What the processes of one deployment share: chosen by REDIS_URL.

Unset (the embedded default): python-socketio's in-process manager, presence in
memory and per-process room locks; exactly one process may serve the chat.
Set: broadcasts, presence and room locks go through Redis, so any number of
processes (gunicorn workers, hosts) serve one chat.
"""

from dataclasses import dataclass

import redis
import socketio
from socketio.packet import Packet

from chat.presence import InMemoryPresence, RedisPresence
from chat.roomlocks import LocalRoomLocks, RedisRoomLocks
from d09.env import env_int, env_str

# A host_id that is no process's own: python-socketio's listener skips the
# messages its own process published, and this one must not be skipped.
EVERY_PROCESS = "*"


class OrderedRedisManager(socketio.RedisManager):
    """RedisManager whose broadcasts reach this process's clients through Redis too.

    python-socketio's RedisManager hands an emit to the local clients at once and
    publishes it for the other processes. Process B's clients could then get
    B's message 11 before A's message 10, still on its way through Redis. Here
    an emit is only published, and every process, this one included, delivers
    what it reads from the channel: every client gets the channel's order.
    Costs one Redis round trip of latency for local clients.

    ``ignore_queue=True`` still means "this process's clients only, now" (used
    for a joiner's own history). Emits with an ack callback or binary data keep
    python-socketio's behaviour; the chat sends neither.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Redis pub/sub forgets what is published while a subscriber reconnects
        # (a Redis restart): remember the newest message id delivered per room
        # and whether the subscription was renewed, so the upkeep can fill the
        # gap from the database (chat.realtime.resync_after_reconnect).
        self.last_delivered = {}
        self.resubscribed = False
        self._connects = 0

    def _redis_connect(self):
        super()._redis_connect()
        self._connects += 1
        if self._connects > 1:
            self.resubscribed = True

    def _handle_emit(self, message):
        data = message.get("data") or [None]
        if message.get("event") == "message" and isinstance(data[0], dict):
            room = message.get("room")
            self.last_delivered[room] = max(self.last_delivered.get(room, 0), data[0]["id"])
        return super()._handle_emit(message)

    def take_resync(self):
        """Rooms and the newest id each got, once after every renewed subscription."""
        if not self.resubscribed or not self.pubsub.subscribed:
            return {}
        self.resubscribed = False
        return dict(self.last_delivered)

    def emit(self, event, data, namespace=None, room=None, skip_sid=None, callback=None, **kwargs):
        payload = list(data) if isinstance(data, tuple) else [data]
        if kwargs.get("ignore_queue") or callback is not None or Packet.data_is_binary(payload):
            return super().emit(
                event, data, namespace, room=room, skip_sid=skip_sid, callback=callback, **kwargs
            )
        self._publish(
            {
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
        )


@dataclass(frozen=True)
class SharedState:
    presence: object  # chat.presence.InMemoryPresence or RedisPresence
    locks: object  # chat.roomlocks.LocalRoomLocks or RedisRoomLocks
    manager: socketio.Manager | None = None  # None: python-socketio's in-process one
    # Seconds between heartbeats (and reaps): well within the presence TTL.
    upkeep_interval: float = 5

    @property
    def multi_process(self):
        return self.manager is not None


def shared_state(redis_url="", presence_ttl=15):
    if not redis_url:
        return SharedState(presence=InMemoryPresence(), locks=LocalRoomLocks())
    # Timeouts: a Redis that stops answering must fail requests, not hang them.
    client = redis.Redis.from_url(
        redis_url, socket_timeout=10, socket_connect_timeout=5, health_check_interval=30
    )
    return SharedState(
        presence=RedisPresence(client, ttl=presence_ttl),
        locks=RedisRoomLocks(client),
        manager=OrderedRedisManager(redis_url, channel="d09:socketio"),
        upkeep_interval=min(5, presence_ttl / 3),
    )


def shared_state_from_env():
    """From REDIS_URL and PRESENCE_TTL (seconds without a heartbeat after which a
    process counts as dead; its users leave at most ~5 s later)."""
    return shared_state(env_str("REDIS_URL"), presence_ttl=env_int("PRESENCE_TTL", 15))
