"""Who is notified of a message: each user's level per room, kept on the server.

A level is ``all``, ``mentions`` or ``none``. The default depends on the
room's kind (mentions in open and private rooms, all in direct conversations);
only a choice that differs from it is a row (``NotificationLevel``): open rooms
have no memberships, and most people never change a level.

Nobody is notified of their own messages, of a room they may not see
(chat.access), of a deleted message, or while their account is inactive.
"""

import re
from dataclasses import dataclass

from django.contrib.auth import get_user_model

from chat import access
from chat.models import Message, NotificationLevel, Room
from chat.payloads import Refused, Schema

Level = NotificationLevel.Level
LEVELS = tuple(Level.values)  # "all", "mentions", "none"
# ``@here`` / ``@everyone`` name every member where the room allows it: in
# private and direct rooms. In an open room anyone could ping everyone.
_EVERYONE = re.compile(r"(?<![\w@])@(here|everyone)\b")
ROOMS_WITH_EVERYONE = (Room.Kind.PRIVATE, Room.Kind.DIRECT)


def default_level(kind):
    return Level.ALL if kind == Room.Kind.DIRECT else Level.MENTIONS


def level_check(value):
    if value not in LEVELS:
        raise Refused('"level" must be "all", "mentions" or "none".')
    return value


SET_LEVEL = Schema(
    not_an_object='Send {"level": "all" | "mentions" | "none"}.',
    fields={"level": level_check},
)


def level_of(user_id, room):
    """``user_id``'s level in ``room`` (a Room or anything with pk and kind)."""
    chosen = (
        NotificationLevel.objects.filter(user_id=user_id, room_id=room.pk)
        .values_list("level", flat=True)
        .first()
    )
    return chosen or default_level(room.kind)


def levels_of(user_id, rooms):
    """``{slug: level}`` of ``user_id`` for each of ``rooms`` (one query)."""
    chosen = dict(
        NotificationLevel.objects.filter(
            user_id=user_id, room_id__in=[room.pk for room in rooms]
        ).values_list("room_id", "level")
    )
    return {room.slug: chosen.get(room.pk, default_level(room.kind)) for room in rooms}


def set_level(user_id, room, level):
    """``user_id`` chooses ``level`` in ``room`` (which they may see: the caller
    asked chat.access); only a choice other than the default is kept."""
    if level == default_level(room.kind):
        NotificationLevel.objects.filter(user_id=user_id, room_id=room.pk).delete()
    else:
        NotificationLevel.objects.update_or_create(
            user_id=user_id, room_id=room.pk, defaults={"level": level}
        )
    return level


def mentions_everyone(text, kind):
    return kind in ROOMS_WITH_EVERYONE and bool(_EVERYONE.search(text))


def wants(level, mentioned):
    """Whether a user at ``level`` is told of a message (naming them or not)."""
    return level == Level.ALL or (level == Level.MENTIONS and mentioned)


@dataclass(frozen=True)
class Recipient:
    user_id: int
    username: str
    mentioned: bool  # named in the message (or @here / @everyone)
    level: str


def recipients(message, room):
    """Who is notified of ``message`` (its wire form, chat.messages.as_event)
    posted in ``room``: ``[Recipient]``, never its author, never someone who
    may not see the room, nobody once it is deleted."""
    if message["deleted"] or is_deleted(message["id"]):
        return []
    everyone = mentions_everyone(message["text"], room.kind)
    named = set(message["mentions"])
    candidates = _candidates(room, named)
    chosen = dict(
        NotificationLevel.objects.filter(room_id=room.pk, user_id__in=candidates).values_list(
            "user_id", "level"
        )
    )
    found = []
    for user_id, username in candidates.items():
        if username == message["user"]:
            continue
        level = chosen.get(user_id, default_level(room.kind))
        mentioned = everyone or username in named
        if wants(level, mentioned) and access.may_see(user_id, room.pk, room.kind):
            found.append(Recipient(user_id, username, mentioned, level))
    return found


def _candidates(room, named):
    """``{user_id: username}`` of the active users who might want to hear of a
    message in ``room`` that names ``named``: a private or direct room's
    members; in an open room, those named and those who chose ``all`` there."""
    users = get_user_model()._default_manager.filter(is_active=True)
    if room.kind != Room.Kind.OPEN:
        members = access.member_names(room.pk)
        users = users.filter(pk__in=members)
    else:
        listening = NotificationLevel.objects.filter(room_id=room.pk, level=Level.ALL)
        users = users.filter(pk__in=listening.values("user_id")) | users.filter(username__in=named)
    return dict(users.values_list("pk", "username"))


def is_deleted(message_id):
    """Whether the message is gone or deleted now (read before telling anyone)."""
    return not Message.objects.filter(pk=message_id, deleted__isnull=True).exists()
