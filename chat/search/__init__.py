"""Search: what was said, in the rooms a user may read.

One interface, two backends chosen by the database in use: FTS5 on SQLite
(chat.search.sqlite), full-text search on PostgreSQL (chat.search.postgres).
Here: the rooms and authors a query may reach (chat.access decides the rooms,
read at each search: a removed member finds nothing more there), paging, and
the highlighted pieces of each hit's text, for the page to render escaped.
"""

import threading
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Q

from chat import access
from chat.models import Message
from chat.search.base import MARK_END, MARK_START
from chat.search.query import parse

PAGE_SIZE = 20
MAX_PAGE = 50  # deeper pages cost an OFFSET of every hit before them


class SearchBusy(Exception):
    """SEARCHES_IN_FLIGHT searches are under way in this worker already."""


@dataclass
class Result:
    message: Message
    room_title: str
    pieces: list  # [(text, matched)], in order: the text, cut at the matched words


@dataclass
class Page:
    query: object
    results: list = field(default_factory=list)
    number: int = 1
    has_next: bool = False
    notes: list = field(default_factory=list)  # why nothing could be found, in words


def backend():
    """The search backend of the database in use."""
    if connection.vendor == "postgresql":
        from chat.search.postgres import PostgresSearch

        return PostgresSearch()
    from chat.search.sqlite import SQLiteSearch

    return SQLiteSearch()


def pieces(marked_text):
    """``[(text, matched)]`` of a backend's marked text: plain strings, for
    the template to escape; the marks themselves never reach the page."""
    result = []
    matched = False
    for part in _split_marks(marked_text):
        if part == MARK_START:
            matched = True
        elif part == MARK_END:
            matched = False
        elif part:
            result.append((part, matched))
    return result


def _split_marks(text):
    start = 0
    for index, character in enumerate(text):
        if character in (MARK_START, MARK_END):
            yield text[start:index]
            yield character
            start = index + 1
    yield text[start:]


def _rooms(user, query, room):
    """The ids of the rooms to search (the user's readable rooms, narrowed by
    ``room`` and ``in:``), and notes for names that match none."""
    readable = access.readable_rooms(user.pk)
    if room is not None:
        readable = readable.filter(pk=room.pk)
    notes = []
    for name in query.rooms:
        narrowed = readable.filter(Q(slug__iexact=name) | Q(name__iexact=name))
        if not narrowed.exists():
            notes.append(f"You have no room named {name!r}.")
        readable = narrowed
    return list(readable.values_list("pk", flat=True)), notes


def _authors(query):
    if not query.authors:
        return [], []
    users = get_user_model()._default_manager
    ids, notes = [], []
    for name in query.authors:
        found = list(users.filter(username__iexact=name).values_list("pk", flat=True))
        if not found:
            notes.append(f"There is no user {name!r}.")
        ids += found
    return ids, notes


_in_flight = threading.BoundedSemaphore(1)  # replaced at the first search (settings)
_in_flight_size = None


def _slot():
    global _in_flight, _in_flight_size
    if _in_flight_size != settings.SEARCHES_IN_FLIGHT:
        _in_flight_size = settings.SEARCHES_IN_FLIGHT
        _in_flight = threading.BoundedSemaphore(max(1, _in_flight_size))
    return _in_flight


def search(user, text, room=None, page=1):
    """The Page ``page`` of ``user``'s search for ``text`` (in ``room``, a Room
    they may see, if given). SearchBusy when the worker has too many already."""
    query = parse(text)
    page = min(max(1, page), MAX_PAGE)
    result = Page(query=query, number=page)
    if query.empty:
        return result
    room_ids, room_notes = _rooms(user, query, room)
    author_ids, author_notes = _authors(query)
    result.notes = room_notes + author_notes
    if not room_ids or result.notes:
        return result
    slot = _slot()
    if not slot.acquire(blocking=False):
        raise SearchBusy
    try:
        ids, marked = _find(query, room_ids, author_ids, (page - 1) * PAGE_SIZE, PAGE_SIZE + 1)
    finally:
        slot.release()
    result.has_next = len(ids) > PAGE_SIZE
    result.results = _results(user, ids[:PAGE_SIZE], marked)
    return result


def _find(query, room_ids, author_ids, offset, limit):
    """``(message ids, {id: marked text})``: the text's hits best first, or
    (words neither given nor excluded: only ``from:`` or ``in:``) the newest."""
    if query.matches_text:
        hits = backend().find(query, room_ids, author_ids, offset, limit)
        return [hit.message_id for hit in hits], {h.message_id: h.marked_text for h in hits}
    newest = Message.objects.filter(room_id__in=room_ids, deleted__isnull=True)
    if author_ids:
        newest = newest.filter(author_id__in=author_ids)
    return list(newest.order_by("-id").values_list("pk", flat=True)[offset : offset + limit]), {}


def _results(user, ids, marked):
    by_id = Message.objects.select_related("room", "author").in_bulk(ids)
    titles = {}
    results = []
    for message_id in ids:
        message = by_id.get(message_id)
        if message is None or message.deleted:  # deleted since the search
            continue
        room = message.room
        if room.pk not in titles:
            titles[room.pk] = access.title_for(room, user.get_username())
        text = marked.get(message_id) or message.text
        results.append(Result(message, titles[room.pk], pieces(text)))
    return results
