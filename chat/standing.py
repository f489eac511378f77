"""A user's standing: whether the account is active and whether it is staff,
as the database says now or at most 1.5 x PERMISSION_RECHECK_SECONDS ago.

A permission is checked where the action is taken, never only at connect:

- staff actions (deleting another's message, muting) read the row at once
  (``now``): they are rare, and a demotion must stop the very next one;
- admission and every event use ``is_active``: a read of at most
  1.5 x PERMISSION_RECHECK_SECONDS, kept in this process;
- ``inactive`` re-reads, in bulk, the users with live connections in this process:
  chat.background calls it every PERMISSION_RECHECK_SECONDS, so a deactivation
  made anywhere (another worker, the admin on another host, a shell, plain SQL,
  which no signal reports) ends the open connections within that time.

What is kept is a plain dict of this process, not a Django cache: the sweep
renews every connected user each second and every event reads it, and the
local-memory cache pickles each value both ways (with 10,000 users connected,
the sweep alone took about a tenth of the worker's core, profiled during a
reconnect storm). The worker's green threads share one OS thread: no lock.
"""

import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connections, router

CHUNK = 500  # ids per query when re-reading many users

# user id -> (is_active, monotonic time until which that may be used)
_known = {}


@dataclass(frozen=True, slots=True)
class Standing:
    is_active: bool
    is_staff: bool


GONE = Standing(is_active=False, is_staff=False)  # no such user (deleted)


def _users():
    return get_user_model()._default_manager


def kept_seconds():
    """How long what was read is kept: a little longer than the sweep's interval,
    so that the sweep renews the entries of connected users before they expire
    (an event never waits for a query), and never 2 s stale with the default."""
    return settings.PERMISSION_RECHECK_SECONDS * 1.5


def remember(user_ids, active):
    """``user_ids`` were read just now: active or not, for ``kept_seconds()``."""
    until = time.monotonic() + kept_seconds()
    for user_id in user_ids:
        _known[user_id] = (active, until)


def now(user_id):
    """The user's standing as the database says it now."""
    row = _users().filter(pk=user_id).values_list("is_active", "is_staff").first()
    found = GONE if row is None else Standing(is_active=row[0], is_staff=row[1])
    remember([user_id], found.is_active)
    return found


def is_active(user_id):
    """Whether the account is active, as read at most 1.5 x PERMISSION_RECHECK_SECONDS ago."""
    known = _known.get(user_id)
    if known is not None and known[1] > time.monotonic():
        return known[0]
    return now(user_id).is_active


def forget(user_id):
    """The user changed in this process: the next look reads the database."""
    _known.pop(user_id, None)


def forget_all():
    """Nothing read is kept (tests; a process that must start afresh)."""
    _known.clear()


def inactive(user_ids):
    """Re-read whether ``user_ids`` (the users connected here) are active, in
    bulk, and keep it; the ids of those whose account is inactive or gone.

    One query per CHUNK ids that returns only the active ones' ids: what the
    database must send and Python must build does not include the flags."""
    user_ids = list(user_ids)
    ended = set()
    for start in range(0, len(user_ids), CHUNK):
        chunk = user_ids[start : start + CHUNK]
        active = _active_among(chunk)
        gone = [user_id for user_id in chunk if user_id not in active]
        remember(active, True)
        remember(gone, False)
        ended.update(gone)
    return ended


def _active_among(user_ids):
    """The ids among ``user_ids`` whose account is active, in one query.

    Written as SQL through Django's cursor, with the user model's own table
    and columns: the ORM prepares each value of an ``__in`` lookup one by one
    in Python, which for the 10,000 users a worker may hold took 24 ms of the
    event loop every second, against 6.7 ms this way (bench/README.md, "The
    permission sweep")."""
    model = get_user_model()
    meta = model._meta
    connection = connections[router.db_for_read(model)]
    quote = connection.ops.quote_name
    pk = quote(meta.pk.column)
    placeholders = ", ".join(["%s"] * len(user_ids))
    sql = (
        f"SELECT {pk} FROM {quote(meta.db_table)}"
        f" WHERE {quote(meta.get_field('is_active').column)} = %s AND {pk} IN ({placeholders})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [True, *user_ids])
        return {row[0] for row in cursor.fetchall()}
