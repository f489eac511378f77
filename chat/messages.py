"""Chat messages: validation, storage, edits and deletes, and the queries that
read them back, with no socket in sight.

Every read is one keyset query: ``before`` and ``after`` a message id on the
``(room, -id)`` index, ``changes_since`` a change number on ``(room, seq)``;
oldest first on the wire. Every change of a room (posted, edited, deleted)
takes the room's next change number (``seq``), in the transaction that makes it.
"""

import re
import time
import unicodedata

from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from chat.models import Attachment, Message, Room
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


_MENTION = re.compile(r"(?<![\w@])@([\w.@+-]+)")


def iso(moment):
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def as_event(message, room_slug, username):
    """The wire form of a message (``message``, ``message_updated``, ``history``).
    A deleted message keeps its place and number, never its text."""
    return {
        "id": message.id,
        "room": room_slug,
        "user": username,
        "text": "" if message.deleted else message.text,
        "created": iso(message.created),
        "client_message_id": message.client_message_id or None,
        "seq": message.seq,
        "edited": iso(message.edited),
        "deleted": message.deleted is not None,
        "mentions": [] if message.deleted else message.mentions,
        "attachment": None if message.deleted else _attachment_wire(message),
    }


def _attachment_wire(message):
    from chat.attachments.store import wire  # the package builds on this module

    # A message without one: the reverse one-to-one raises (an AttributeError).
    return wire(getattr(message, "attachment", None))


def mentioned(text, member):
    """The users that ``text`` names with ``@username``, who exist and may read
    ``member``'s room: in a private or direct room, its members only (naming
    anyone else tells them nothing, not even that the room exists)."""
    names = {name.rstrip(".") for name in _MENTION.findall(text)}
    if not names:
        return []
    found = get_user_model()._default_manager.filter(username__in=names)
    if member.private:
        found = found.filter(chat_memberships__room_id=member.room_id)
    return sorted(found.values_list("username", flat=True))


def room_seq(room_id):
    """The room's latest change number."""
    return Room.objects.filter(pk=room_id).values_list("last_seq", flat=True).first() or 0


def next_seq(room_id):
    """Take the room's next change number (inside the caller's transaction)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE chat_room SET last_seq = last_seq + 1 WHERE id = %s RETURNING last_seq",
            [room_id],
        )
        return cursor.fetchone()[0]


def store_message(member, text, client_message_id=None, attachment=None):
    """Store a validated message from ``member`` (chat.connection.Member),
    with its ``Attachment`` when ``attachment`` (its fields) is given.

    Returns ``(wire form, stored)``. A ``client_message_id`` the author already
    used stores nothing: the first message's wire form comes back, with
    ``stored`` False (the database's unique constraint decides, so two copies
    sent at once on two connections or workers still make one row).
    """
    try:
        with transaction.atomic():
            message = Message.objects.create(
                room_id=member.room_id,
                author_id=member.user_id,
                text=text,
                client_message_id=client_message_id or "",
                seq=next_seq(member.room_id),
                mentions=mentioned(text, member),
            )
            if attachment is not None:
                message.attachment = Attachment.objects.create(message=message, **attachment)
            else:  # known to have none: its wire form asks the database nothing more
                Message.attachment.related.set_cached_value(message, None)
    except IntegrityError:
        first = sent_before(member.user_id, client_message_id)
        if first is None:
            raise
        if first.room_id != member.room_id:
            # Not a resend: acking it as one would lose this message silently
            # (and tell the sender another room's message id).
            raise Refused(
                "This client_message_id was used for a message in another room: "
                "make a new one for each message."
            ) from None
        return as_event(first, first.room.slug, member.username), False
    return as_event(message, member.room_slug, member.username), True


def edit_message(message, text, member):
    """``member`` gives its ``message`` (checked by the caller) a new text: it
    takes the room's next change number (the pages coming back hear of it)."""
    with transaction.atomic():
        message.text = text
        message.mentions = mentioned(text, member)
        message.edited = timezone.now()
        message.seq = next_seq(message.room_id)
        message.save(update_fields=["text", "mentions", "edited", "seq"])
    return message


def delete_message(message):
    """Delete ``message``: its text and its file go, its row stays as a placeholder."""
    with transaction.atomic():
        for attachment in Attachment.objects.filter(message=message):
            attachment.delete()  # its files go once committed (chat.apps)
        message.text = ""
        message.mentions = []
        message.deleted = timezone.now()
        message.seq = next_seq(message.room_id)
        message.save(update_fields=["text", "mentions", "deleted", "seq"])
    return message


def erase_author(user):
    """``user`` is being deleted: each of their messages is deleted as in the
    chat (its text gone, the room's next change number, no client_message_id
    that could clash under the stand-in author); the messages, for the rooms."""
    erased = []
    with transaction.atomic():
        for message in Message.objects.filter(author=user, deleted__isnull=True).select_related(
            "room"
        ):
            delete_message(message)
            erased.append(message)
        Message.objects.filter(author=user).exclude(client_message_id="").update(
            client_message_id=""
        )
    return erased


def find(room_id, message_id):
    """The message ``message_id`` of the room, with its author, or Refused."""
    message = _in_room(room_id).filter(pk=message_id).first()
    if message is None:
        raise Refused("There is no such message in this room.")
    return message


def sent_before(user_id, client_message_id):
    """The user's message of that ``client_message_id``, with its room, or None."""
    if not client_message_id:
        return None
    return (
        Message.objects.filter(author_id=user_id, client_message_id=client_message_id)
        .select_related("room", "attachment")
        .first()
    )


def _in_room(room_id):
    return Message.objects.filter(room_id=room_id).select_related("author", "attachment")


def _shown(room_id):
    """Messages a reader sees in a room: not the deleted ones."""
    return _in_room(room_id).filter(deleted__isnull=True)


def _wire(messages, room_slug):
    return [as_event(m, room_slug, m.author.get_username()) for m in messages]


def _newest(queryset, room_slug, limit):
    """The newest ``limit`` messages of ``queryset``, oldest first."""
    return _wire(reversed(queryset.order_by("-id")[:limit]), room_slug)


def before(room_id, room_slug, message_id, limit):
    """The ``limit`` messages just before ``message_id`` (None: the newest),
    oldest first."""
    queryset = _shown(room_id)
    if message_id is not None:
        queryset = queryset.filter(id__lt=message_id)
    return _newest(queryset, room_slug, limit)


def after(room_id, room_slug, message_id, limit):
    """The first ``limit`` messages after ``message_id``, oldest first."""
    return _wire(_shown(room_id).filter(id__gt=message_id).order_by("id")[:limit], room_slug)


def changes_since(room_id, room_slug, seq, limit=GAP_FILL_LIMIT, room_at=None):
    """``(messages in change order, complete)``: every message of the room
    posted, edited or deleted after change number ``seq`` (at most ``limit``:
    ``complete`` is False when there were more). ``room_at``: the room's change
    number now, if the caller has it; a page that saw it missed nothing, and
    that needs no query (most of a restart's reconnects)."""
    if room_at is not None and seq >= room_at:
        return [], True
    changed = list(_in_room(room_id).filter(seq__gt=seq).order_by("seq")[: limit + 1])
    return _wire(changed[:limit], room_slug), len(changed) <= limit


# Every entry into a room sends its last HISTORY_SIZE messages. After a restart
# thousands of entries come within a minute while a room changes rarely, and
# the query and the wire forms were a tenth of a join's CPU (py-spy). So they
# are kept in the process by the room's change number, which every post, edit
# and delete takes: an entry at another number reads them again. What takes no
# number (a user renamed in the admin) shows within LATEST_KEPT_SECONDS.
LATEST_KEPT_SECONDS = 10
_latest = {}  # room id -> (change number, when read, messages)


def latest(room_id, room_slug, seq):
    """The room's last HISTORY_SIZE messages, oldest first, at change number
    ``seq`` (``room_seq``, read by the caller under the room's lock)."""
    now = time.monotonic()
    kept = _latest.get(room_id)
    if kept is not None and kept[0] == seq and now - kept[1] < LATEST_KEPT_SECONDS:
        return list(kept[2])
    shown = before(room_id, room_slug, None, HISTORY_SIZE)
    _latest[room_id] = (seq, now, shown)
    return list(shown)


def forget_latest():
    """Read every room's last messages again (tests: the database rolled back)."""
    _latest.clear()


def history(room_id, room_slug, after=None):
    """``(messages, complete)`` for a joiner, oldest first, in one query.

    Without ``after``: the last HISTORY_SIZE messages of the room. With it (the
    newest id a reconnecting page already shows): the messages newer than it,
    at most GAP_FILL_LIMIT of the newest; ``complete`` is False when more were
    missed than that (the page must start afresh rather than show a hole).
    """
    if after is None:
        return before(room_id, room_slug, None, HISTORY_SIZE), True
    gap = _newest(_shown(room_id).filter(id__gt=after), room_slug, GAP_FILL_LIMIT + 1)
    return gap[-GAP_FILL_LIMIT:], len(gap) <= GAP_FILL_LIMIT
