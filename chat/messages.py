"""Chat messages: validation, storage and the queries that read them back, with
no socket in sight.

Every read is one keyset query on the ``(room, -id)`` index: ``latest``,
``before`` and ``after`` a message id, oldest first on the wire.
"""

import unicodedata

from chat.models import Message
from chat.payloads import Refused, Schema

MAX_MESSAGE_LENGTH = 2000
HISTORY_SIZE = 3
GAP_FILL_LIMIT = 100
_KEPT_CONTROL_CHARACTERS = {"\n", "\t"}


def chat_text(value):
    """A check: the text of a chat line, cleaned; refused when unusable."""
    if not isinstance(value, str):
        raise Refused("The message text must be a string.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise Refused("The message contains invalid characters.") from None
    # Control characters (NUL, escape sequences...) have no place in a chat line
    # and some databases refuse them; newlines and tabs stay.
    text = "".join(
        ch for ch in value if ch in _KEPT_CONTROL_CHARACTERS or unicodedata.category(ch) != "Cc"
    ).strip()
    if not text:
        raise Refused("The message is empty.")
    if len(text) > MAX_MESSAGE_LENGTH:
        raise Refused(
            f"The message is too long ({len(text)} characters, at most {MAX_MESSAGE_LENGTH})."
        )
    return text


MESSAGE = Schema(
    not_an_object='A message must be an object like {"text": "..."}.',
    fields={"text": chat_text},
)


def clean_text(*payload):
    """The text of a ``message`` event's payload ``{"text": str}``, or Refused."""
    return MESSAGE.validate(*payload)["text"]


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


def _in_room(room_id):
    return Message.objects.filter(room_id=room_id).select_related("author")


def _wire(messages, room_slug):
    return [as_event(m, room_slug, m.author.get_username()) for m in messages]


def _newest(queryset, room_slug, limit):
    """The newest ``limit`` messages of ``queryset``, oldest first."""
    return _wire(reversed(queryset.order_by("-id")[:limit]), room_slug)


def before(room_id, room_slug, message_id, limit):
    """The ``limit`` messages just before ``message_id`` (None: the newest),
    oldest first."""
    queryset = _in_room(room_id)
    if message_id is not None:
        queryset = queryset.filter(id__lt=message_id)
    return _newest(queryset, room_slug, limit)


def after(room_id, room_slug, message_id, limit):
    """The first ``limit`` messages after ``message_id``, oldest first."""
    return _wire(_in_room(room_id).filter(id__gt=message_id).order_by("id")[:limit], room_slug)


def history(room_id, room_slug, after=None):
    """``(messages, complete)`` for a joiner, oldest first, in one query.

    Without ``after``: the last HISTORY_SIZE messages of the room. With it (the
    newest id a reconnecting page already shows): the messages newer than it,
    at most GAP_FILL_LIMIT of the newest; ``complete`` is False when more were
    missed than that (the page must start afresh rather than show a hole).
    """
    if after is None:
        return before(room_id, room_slug, None, HISTORY_SIZE), True
    gap = _newest(_in_room(room_id).filter(id__gt=after), room_slug, GAP_FILL_LIMIT + 1)
    return gap[-GAP_FILL_LIMIT:], len(gap) <= GAP_FILL_LIMIT
