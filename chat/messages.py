"""Chat messages: validation, storage and history, with no socket in sight."""

import unicodedata

from chat.models import Message

MAX_MESSAGE_LENGTH = 2000
HISTORY_SIZE = 3
GAP_FILL_LIMIT = 100
_KEPT_CONTROL_CHARACTERS = {"\n", "\t"}


class MessageRejected(ValueError):
    """A message the server refuses; the text is shown to the sender as is."""


def clean_text(payload):
    """The text of a ``message`` event payload ``{"text": str}``, or MessageRejected."""
    if not isinstance(payload, dict):
        raise MessageRejected('A message must be an object like {"text": "..."}.')
    extra = set(payload) - {"text"}
    if extra:
        raise MessageRejected(f"Unexpected field(s): {', '.join(sorted(map(str, extra)))}.")
    text = payload.get("text")
    if not isinstance(text, str):
        raise MessageRejected("The message text must be a string.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise MessageRejected("The message contains invalid characters.") from None
    # Control characters (NUL, escape sequences...) have no place in a chat line
    # and some databases refuse them; newlines and tabs stay.
    text = "".join(
        ch for ch in text if ch in _KEPT_CONTROL_CHARACTERS or unicodedata.category(ch) != "Cc"
    ).strip()
    if not text:
        raise MessageRejected("The message is empty.")
    if len(text) > MAX_MESSAGE_LENGTH:
        raise MessageRejected(
            f"The message is too long ({len(text)} characters, at most {MAX_MESSAGE_LENGTH})."
        )
    return text


def as_event(message, room_slug, username):
    """The wire form of a message (the ``message`` and ``history`` events)."""
    return {
        "id": message.id,
        "room": room_slug,
        "user": username,
        "text": message.text,
        "created": message.created.isoformat().replace("+00:00", "Z"),
    }


def store_message(member, text):
    """Store a validated message from ``member`` (chat.connection.Member); its wire form."""
    message = Message.objects.create(room_id=member.room_id, author_id=member.user_id, text=text)
    return as_event(message, member.room_slug, member.username)


def newer_in_room(room_slug, after):
    """Messages of a room newer than ``after``, oldest first (at most GAP_FILL_LIMIT)."""
    queryset = Message.objects.filter(room__slug=room_slug, id__gt=after).select_related("author")
    return [
        as_event(m, room_slug, m.author.get_username())
        for m in queryset.order_by("id")[:GAP_FILL_LIMIT]
    ]


def history(room_id, room_slug, after=None):
    """Messages for a joiner, oldest first, in one query.

    Without ``after``: the last HISTORY_SIZE messages of the room. With ``after``
    (the newest id a reconnecting page already shows): the messages newer than
    it, at most GAP_FILL_LIMIT of the newest.
    """
    queryset = Message.objects.filter(room_id=room_id).select_related("author")
    limit = HISTORY_SIZE
    if after is not None:
        queryset = queryset.filter(id__gt=after)
        limit = GAP_FILL_LIMIT
    newest_first = list(queryset.order_by("-id")[:limit])
    return [as_event(m, room_slug, m.author.get_username()) for m in reversed(newest_first)]
