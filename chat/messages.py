"""Chat messages: validation, storage and the queries that read them back, with
no socket in sight.

Every read is one keyset query on the ``(room, -id)`` index: ``latest``,
``before`` and ``after`` a message id, oldest first on the wire.
"""

import contextlib
import re
import unicodedata

from django.db import IntegrityError, transaction

from chat.models import Message
from chat.payloads import Refused, Schema, optional

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


_CLIENT_MESSAGE_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")


def client_message_id(value):
    """A check: the sender's id for a message, 8 to 64 of ``[A-Za-z0-9_-]``."""
    if not isinstance(value, str) or not _CLIENT_MESSAGE_ID.fullmatch(value):
        raise Refused('"client_message_id" must be 8 to 64 letters, digits, "_" or "-".')
    return value


MESSAGE = Schema(
    not_an_object='A message must be an object like {"text": "..."}.',
    fields={"text": chat_text, "client_message_id": optional(client_message_id)},
)


def clean_message(*payload):
    """The fields of a ``message`` event's payload ``{"text": str,
    "client_message_id"?: str}``, cleaned, or Refused."""
    return MESSAGE.validate(*payload)


def clean_text(*payload):
    """The text of a ``message`` event's payload, or Refused."""
    return clean_message(*payload)["text"]


def as_event(message, room_slug, username):
    """The wire form of a message (the ``message`` and ``history`` events)."""
    return {
        "id": message.id,
        "room": room_slug,
        "user": username,
        "text": message.text,
        "created": message.created.isoformat().replace("+00:00", "Z"),
        "client_message_id": message.client_message_id or None,
    }


def store_message(member, text, client_message_id=None):
    """Store a validated message from ``member`` (chat.connection.Member).

    Returns ``(wire form, stored)``. A ``client_message_id`` the author already
    used stores nothing: the first message's wire form comes back, with
    ``stored`` False (the database's unique constraint decides, so two copies
    sent at once on two connections or workers still make one row).
    """
    try:
        with _savepoint_if_in_transaction():
            message = Message.objects.create(
                room_id=member.room_id,
                author_id=member.user_id,
                text=text,
                client_message_id=client_message_id or "",
            )
    except IntegrityError:
        first = _sent_before(member, client_message_id)
        if first is None:
            raise
        return as_event(first, first.room.slug, member.username), False
    return as_event(message, member.room_slug, member.username), True


def _savepoint_if_in_transaction():
    """A savepoint when a caller's transaction is open (its work must survive a
    refused insert); none in autocommit, the handlers' mode, where a refused
    insert leaves nothing behind and a transaction would cost round trips."""
    if transaction.get_connection().in_atomic_block:
        return transaction.atomic()
    return contextlib.nullcontext()


def _sent_before(member, client_message_id):
    if not client_message_id:
        return None
    return (
        Message.objects.filter(author_id=member.user_id, client_message_id=client_message_id)
        .select_related("room")
        .first()
    )


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
