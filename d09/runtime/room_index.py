"""Which Socket.IO rooms each connection is in, so that a disconnect costs the
rooms it was in, not every room of the process.

python-socketio's managers keep ``rooms[namespace][room] -> {sid: eio_sid}``
only, and ``basic_disconnect`` (and ``get_rooms``) find a connection's rooms by
walking, after copying, every room of the namespace: one per connection (its
sid room), one per user (chat.lobby's ``user:<id>``), one per chat room. With
10,000 connections that is about 20,000 rooms walked per disconnect, some
milliseconds of the event loop each: a deploy's 10,000 goodbyes (or a crash of
the clients' network) held the loop for tens of seconds (bench/README.md,
"Deploys and crashes"). This mixin keeps the reverse index as rooms are
entered and left, and answers both from it.
"""

import socketio

# The python-socketio manager methods overridden here, with the parameters they
# have in the version pinned (tests/unit/test_room_index.py checks both).
OVERRIDDEN = {
    "basic_enter_room": ("self", "sid", "namespace", "room", "eio_sid"),
    "basic_leave_room": ("self", "sid", "namespace", "room"),
    "basic_disconnect": ("self", "sid", "namespace", "kwargs"),
    "get_rooms": ("self", "sid", "namespace"),
}


class RoomIndexMixin:
    """Put before a ``socketio.Manager`` subclass in the bases."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.rooms_of = {}  # (namespace, sid) -> set of its rooms (None: "connected")

    def basic_enter_room(self, sid, namespace, room, eio_sid=None):
        super().basic_enter_room(sid, namespace, room, eio_sid=eio_sid)  # raises when refused
        self.rooms_of.setdefault((namespace, sid), set()).add(room)

    def basic_leave_room(self, sid, namespace, room):
        super().basic_leave_room(sid, namespace, room)
        rooms = self.rooms_of.get((namespace, sid))
        if rooms is not None:
            rooms.discard(room)
            if not rooms:
                del self.rooms_of[(namespace, sid)]

    def basic_disconnect(self, sid, namespace, **kwargs):
        # The rooms first, the "connected" room (None) last, as python-socketio
        # does; then its own bookkeeping, which walks no room: rooms it no
        # longer finds the sid in are skipped at once.
        rooms = self.rooms_of.get((namespace, sid), set())
        for room in sorted(rooms - {None}, key=str):
            self.basic_leave_room(sid, namespace, room)
        if None in rooms:
            self.basic_leave_room(sid, namespace, None)
        self._forget_pending(sid, namespace)

    def _forget_pending(self, sid, namespace):
        """What python-socketio's ``basic_disconnect`` does after the rooms."""
        self.callbacks.pop(sid, None)
        for pending in (self.pending_connect, self.pending_disconnect):
            waiting = pending.get(namespace)
            if waiting is not None and sid in waiting:
                waiting.remove(sid)
                if not waiting:
                    del pending[namespace]

    def get_rooms(self, sid, namespace):
        return [room for room in self.rooms_of.get((namespace, sid), ()) if room is not None]


class IndexedManager(RoomIndexMixin, socketio.Manager):
    """python-socketio's in-process manager with the room index (embedded default)."""
