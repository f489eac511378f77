"""The room list's live side (``/chat/``): how many people are in each room and
how many messages each user has not read there, kept current over the
Socket.IO namespace ``/lobby`` (README, "Event API")."""

from chat import access, reading
from chat.connection import find_room
from chat.models import Room
from chat.notify import levels
from chat.payloads import Refused

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
        """A room list opened: it gets the counts of every room its user may
        see now (``rooms``), changes later."""
        self.server.enter_room(sid, EVERYONE, namespace=NAMESPACE)
        self.server.enter_room(sid, own_room(visitor.user_id), namespace=NAMESPACE)
        unread = reading.unread_counts(visitor.user_id)
        visible = access.visible_rooms(visitor.user_id)
        directs = access.direct_rooms(visitor.user_id, visitor.username)
        newest = reading.newest_ids(visible)
        newest.update({room.slug: room.newest or 0 for room in directs})
        chosen = levels.levels_of(visitor.user_id, [*visible, *directs])
        rooms = [self.entry(room, room.name, unread, newest, chosen) for room in visible] + [
            self.entry(room, room.other, unread, newest, chosen) for room in directs
        ]
        self.server.emit("rooms", rooms, to=sid, namespace=NAMESPACE, ignore_queue=True)

    def entry(self, room, title, unread, newest, chosen):
        """One room of a user's list, as ``rooms`` and ``room_added`` carry it
        (``chosen``: the user's notification levels by slug)."""
        return {
            "room": room.slug,
            "name": title,
            "kind": room.kind,
            "online": self.presence.count(room.slug),
            # None: never opened, so nothing is unread there (and nothing counts).
            "unread": unread.get(room.slug),
            # The newest message counted: an `activity` at or below it came
            # before this list (through Redis it may arrive after it).
            "newest": newest.get(room.slug, 0),
            # "none": the list shows the room muted (chat.notify.levels).
            "level": chosen.get(room.slug) or levels.default_level(room.kind),
        }

    def audience(self, slug):
        """Who hears of a room in their list: ``(room, to)`` with ``to`` every
        list for an open room, ``{user_id: name}`` of its members for a private
        or direct one (their own lists); None when there is no such room."""
        try:
            room = find_room(slug)
        except Refused:
            return None
        if room.kind == Room.Kind.OPEN:
            return room, EVERYONE
        return room, access.member_names(room.pk)

    def online(self, room):
        """``room``'s number of people changed."""
        heard = self.audience(room)
        if heard:
            count = {"room": room, "count": self.presence.count(room)}
            self.server.emit("online", count, to=self._lists(heard[1]), namespace=NAMESPACE)

    def activity(self, message):
        """A new message: each list counts it unread unless its reader wrote it.
        A private or direct room's news go to its members only, with the room's
        name for them (a list that does not show the room yet adds it: the first
        message of a direct conversation)."""
        heard = self.audience(message["room"])
        if not heard:
            return
        room, to = heard
        news = {"room": message["room"], "id": message["id"], "user": message["user"]}
        if to == EVERYONE:
            self.server.emit("activity", news, to=EVERYONE, namespace=NAMESPACE)
            return
        for user_id, username in to.items():
            title = (
                room.name
                if room.kind == Room.Kind.PRIVATE
                else access.other_person(to.values(), username)
            )
            named = {**news, "name": title, "kind": room.kind}
            self.server.emit("activity", named, to=own_room(user_id), namespace=NAMESPACE)

    @staticmethod
    def _lists(to):
        return to if to == EVERYONE else [own_room(user_id) for user_id in to]

    def read(self, user_id, room, unread):
        """The user read ``room`` (in some tab): their lists show the new count."""
        count = {"room": room, "unread": unread}
        self.server.emit("unread", count, to=own_room(user_id), namespace=NAMESPACE)

    def room_added(self, user, room):
        """``user`` became a member of ``room`` (added, or a direct conversation
        opened with them): their lists show it, its unread counted from now."""
        title = access.title_for(room, user.get_username())
        unread = {room.slug: reading.unread_count(user.pk, room.pk)}
        newest = {room.slug: reading.newest_id(room.pk)}
        entry = self.entry(room, title, unread, newest, levels.levels_of(user.pk, [room]))
        self.server.emit("room_added", entry, to=own_room(user.pk), namespace=NAMESPACE)

    def room_removed(self, user_id, slug):
        """``user_id`` may no longer see room ``slug``: their lists drop it."""
        self.server.emit("room_removed", {"room": slug}, to=own_room(user_id), namespace=NAMESPACE)
