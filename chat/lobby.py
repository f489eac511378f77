"""The room list's live side (``/chat/``): how many people are in each room and
how many messages each user has not read there, kept current over the
Socket.IO namespace ``/lobby`` (README, "Event API")."""

from chat import reading
from chat.models import Room

NAMESPACE = "/lobby"
EVERYONE = "lobby"  # the Socket.IO room of every lobby connection


def own_room(user_id):
    """The Socket.IO room of one user's lobby connections."""
    return f"user:{user_id}"


class Lobby:
    def __init__(self, server, presence):
        self.server = server
        self.presence = presence

    def enter(self, sid, visitor):
        """A room list opened: it gets every room's counts now, changes later."""
        self.server.enter_room(sid, EVERYONE, namespace=NAMESPACE)
        self.server.enter_room(sid, own_room(visitor.user_id), namespace=NAMESPACE)
        unread = reading.unread_counts(visitor.user_id)
        newest = reading.newest_ids()
        rooms = [
            {
                "room": room.slug,
                "name": room.name,
                "online": self.presence.count(room.slug),
                # None: never opened, so nothing is unread there (and nothing counts).
                "unread": unread.get(room.slug),
                # The newest message counted: an `activity` at or below it came
                # before this list (through Redis it may arrive after it).
                "newest": newest.get(room.slug, 0),
            }
            for room in Room.objects.all()
        ]
        self.server.emit("rooms", rooms, to=sid, namespace=NAMESPACE, ignore_queue=True)

    def online(self, room):
        """``room``'s number of people changed."""
        count = {"room": room, "count": self.presence.count(room)}
        self.server.emit("online", count, to=EVERYONE, namespace=NAMESPACE)

    def activity(self, message):
        """A new message: each list counts it unread unless its reader wrote it."""
        news = {"room": message["room"], "id": message["id"], "user": message["user"]}
        self.server.emit("activity", news, to=EVERYONE, namespace=NAMESPACE)

    def read(self, user_id, room, unread):
        """The user read ``room`` (in some tab): their lists show the new count."""
        count = {"room": room, "unread": unread}
        self.server.emit("unread", count, to=own_room(user_id), namespace=NAMESPACE)
