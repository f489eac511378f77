"""What a user has read: read marks, unread counts and the history a returning
reader gets. Plain queries, no sockets."""

import contextlib

from django.db import IntegrityError
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce

from chat import messages
from chat.models import Message, ReadMark
from chat.payloads import Refused, Schema, message_id

OLDER_PAGE_MAX = 100


def page_size(value):
    """A check: how many messages a page of scroll-back holds, 1 to 100."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= OLDER_PAGE_MAX:
        raise Refused(f'"limit" must be a whole number from 1 to {OLDER_PAGE_MAX}.')
    return value


OLDER = Schema(
    not_an_object='Ask for older messages with {"before": <id>, "limit": <1..100>}.',
    fields={"before": message_id("before"), "limit": page_size},
)
NEWER = Schema(
    not_an_object='Ask for newer messages with {"after": <id>, "limit": <1..100>}.',
    fields={"after": message_id("after"), "limit": page_size},
)
READ = Schema(
    not_an_object='Mark what was read with {"id": <id>}.',
    fields={"id": message_id("id")},
)


def older(room_id, room_slug, before_id, limit):
    """``(messages oldest first, more)``: the page of ``limit`` messages just
    before ``before_id``, and whether there are older ones still (one query)."""
    page = messages.before(room_id, room_slug, before_id, limit + 1)
    return page[-limit:], len(page) > limit


def newer(room_id, room_slug, after_id, limit):
    """``(messages oldest first, more)``: the page of ``limit`` messages just
    after ``after_id``, and whether there are newer ones still (one query). A
    page opened at a message (a search result) goes down to the live end."""
    page = messages.after(room_id, room_slug, after_id, limit + 1)
    return page[:limit], len(page) > limit


def entry_history(member, seq):
    """``(history, last_read)`` for a reader entering a room (not reconnecting)
    at the room's change number ``seq``.

    Nothing unread (or a first visit, which sets the mark to the room's newest
    message): the exercise's last 3 messages, ``last_read`` None. Otherwise the
    3 messages up to the mark for context and the unread ones after it (the
    newest GAP_FILL_LIMIT), with ``last_read`` the mark: the page draws its
    "New messages" divider there.
    """
    mark = mark_of(member.user_id, member.room_id)
    if mark is None:
        recent = messages.latest(member.room_id, member.room_slug, seq)
        _first_mark(member.user_id, member.room_id, recent[-1]["id"] if recent else 0)
        return recent, None
    if not unread_messages(member.user_id, member.room_id, mark).exists():
        return messages.latest(member.room_id, member.room_slug, seq), None
    after, complete = messages.history(member.room_id, member.room_slug, after=mark)
    if not complete:  # more unread than sent: these are all unread, older ones by scroll-back
        return after, mark
    context = messages.before(member.room_id, member.room_slug, mark + 1, messages.HISTORY_SIZE)
    return context + after, mark


def mark_of(user_id, room_id):
    return (
        ReadMark.objects.filter(user_id=user_id, room_id=room_id)
        .values_list("last_read_id", flat=True)
        .first()
    )


def newest_id(room_id):
    """The id of the room's newest message (0: none yet)."""
    newest = Message.objects.filter(room_id=room_id).order_by("-id").values_list("id", flat=True)
    return newest.first() or 0


def set_mark(user_id, room_id, message_id):
    """Move the mark forward to ``message_id`` (never back, never past the room's
    newest message); the mark after it."""
    _move_mark(user_id, room_id, min(message_id, newest_id(room_id)))
    return mark_of(user_id, room_id)


def start_mark(user_id, room_id):
    """A new member's mark, at the room's newest message: what comes after is unread."""
    _first_mark(user_id, room_id, newest_id(room_id))


def _first_mark(user_id, room_id, message_id):
    """A first visit's mark, in one INSERT (a join's hot path). A mark made
    meanwhile by another connection of the user is at least as far: it stays."""
    mark = ReadMark(user_id=user_id, room_id=room_id, last_read_id=message_id)
    ReadMark.objects.bulk_create([mark], ignore_conflicts=True)


def _move_mark(user_id, room_id, message_id):
    moved = ReadMark.objects.filter(
        user_id=user_id, room_id=room_id, last_read_id__lt=message_id
    ).update(last_read_id=message_id)
    if not moved:
        # IntegrityError: made at the same moment by another connection.
        with contextlib.suppress(IntegrityError):
            ReadMark.objects.get_or_create(
                user_id=user_id, room_id=room_id, defaults={"last_read_id": message_id}
            )


def unread_messages(user_id, room_id, mark):
    """What counts as unread for the user in the room after ``mark``: others'
    messages that are still there (a deleted one is nothing to read, and reading
    could never clear it: the page has no line to mark as read)."""
    return Message.objects.filter(room_id=room_id, id__gt=mark, deleted__isnull=True).exclude(
        author_id=user_id
    )


def unread_count(user_id, room_id):
    mark = mark_of(user_id, room_id)
    if mark is None:
        return 0
    return unread_messages(user_id, room_id, mark).count()


def newest_ids(rooms):
    """``{room slug: id of its newest message}`` of ``rooms`` (a queryset): one
    query, an index lookup per room (``chat_message_room_recent``), whatever the
    number of messages."""
    newest = Message.objects.filter(room=OuterRef("pk")).order_by("-id").values("id")[:1]
    rows = rooms.annotate(newest=Subquery(newest)).values_list("slug", "newest")
    return {slug: newest or 0 for slug, newest in rows}


def unread_counts(user_id):
    """``{room slug: unread messages}`` of every room the user has a mark in: one
    query, a range of the room's index after each mark (its cost grows with what
    is unread, not with the message table)."""
    unread = (
        Message.objects.filter(
            room=OuterRef("room"), id__gt=OuterRef("last_read_id"), deleted__isnull=True
        )
        .exclude(author_id=user_id)
        .order_by()
        .values("room")
        .annotate(count=Count("id"))
        .values("count")
    )
    marks = ReadMark.objects.filter(user_id=user_id).annotate(unread=Coalesce(Subquery(unread), 0))
    return dict(marks.values_list("room__slug", "unread"))
