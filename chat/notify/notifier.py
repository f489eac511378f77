"""Telling users of messages that match their level, over the socket and by
Web Push, and keeping every tab's level control the same.

Each connection of a user, to a room (namespace ``/``) or to the room list
(``/lobby``), is in that user's own Socket.IO room ``user:<id>``: an emit to it
reaches every tab of the user on every worker (through Redis with several).
"""

import logging

from chat import access
from chat.connection import find_room
from chat.lobby import NAMESPACE as LOBBY
from chat.lobby import own_room
from chat.models import Room
from chat.notify import levels
from d09.runtime.event_db import with_event_db_connection

logger = logging.getLogger(__name__)

PREVIEW_LENGTH = 200  # characters of the text a notification carries


def preview(text):
    return text if len(text) <= PREVIEW_LENGTH else text[: PREVIEW_LENGTH - 1] + "…"


def message_url(slug, message_id):
    """The room's page opened at the message (``?at=<id>``, as a search result
    opens it: chat/static/chat/jump.js shows it in its context)."""
    return f"{Room(slug=slug).get_absolute_url()}?at={message_id}"


class Notifier:
    def __init__(self, server, push=None, watching=None):
        self.server = server
        self.push = push  # chat.notify.push.PushSender, or None: push is off
        self.watching = watching  # chat.notify.watching: which tabs show which room

    # -- levels -----------------------------------------------------------------

    def joined(self, sid, member):
        """A room page connected: it hears its user's notifications, and gets
        its level in this room (``notification_level``)."""
        self.server.enter_room(sid, own_room(member.user_id))
        room = find_room(member.room_slug)
        level = {"room": member.room_slug, "level": levels.level_of(member.user_id, room)}
        self.server.emit("notification_level", level, to=sid, ignore_queue=True)

    def set_level(self, member, level):
        """``member`` chooses ``level`` in its room; every tab of the user, on
        every worker, shows it (room pages and room lists)."""
        room = find_room(member.room_slug)
        access.refuse_unless_visible(member.user_id, room)
        levels.set_level(member.user_id, room, level)
        self._to_user(member.user_id, "notification_level", {"room": room.slug, "level": level})
        return level

    # -- what each page shows ---------------------------------------------------

    def visibility(self, sid, member, visible):
        """A room page says whether its tab is visible: no push for that room
        while one is."""
        if self.watching is None:
            return
        if visible:
            self.watching.show(sid, member.user_id, member.room_slug)
        else:
            self.watching.hide(sid)

    def left(self, sid):
        if self.watching is not None:
            self.watching.hide(sid)

    def _to_user(self, user_id, event, data):
        for namespace in ("/", LOBBY):
            self.server.emit(event, data, to=own_room(user_id), namespace=namespace)

    # -- messages ---------------------------------------------------------------

    def posted(self, message):
        """A new message: its recipients are worked out after the author's ack
        (a green thread of its own), then told."""
        self.server.start_background_task(self.tell, message)

    @with_event_db_connection
    def tell(self, message):
        try:
            room = find_room(message["room"])
            for recipient in levels.recipients(message, room):
                self._tell_one(recipient, message, room)
        except Exception:
            logger.exception("could not notify of message %s", message.get("id"))

    def _tell_one(self, recipient, message, room):
        news = {
            "room": room.slug,
            # What the recipient calls the room: a direct one by the other person.
            "name": room.name if room.kind != Room.Kind.DIRECT else message["user"],
            "kind": room.kind,
            "id": message["id"],
            "user": message["user"],
            "text": preview(message["text"]),
            "mention": recipient.mentioned,
            "url": message_url(room.slug, message["id"]),
        }
        self._to_user(recipient.user_id, "notification", news)
        if self.push is not None and not self._watched(recipient.user_id, room.slug):
            self.push.send_to_user(recipient.user_id, news)

    def _watched(self, user_id, slug):
        return self.watching is not None and self.watching.showing(user_id, slug)
