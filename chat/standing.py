"""A user's standing: whether the account is active and whether it is staff,
as the database says now or at most 1.5 x PERMISSION_RECHECK_SECONDS ago.

A permission is checked where the action is taken, never only at connect:

- staff actions (deleting another's message, muting) read the row at once
  (``now``): they are rare, and a demotion must stop the very next one;
- admission and the per-process bookkeeping use ``current``: a read of at most
  1.5 x PERMISSION_RECHECK_SECONDS, kept in the "admission" cache;
- ``inactive`` re-reads, in bulk, the users with live connections in this process:
  chat.background calls it every PERMISSION_RECHECK_SECONDS, so a deactivation
  made anywhere (another worker, the admin on another host, a shell, plain SQL,
  which no signal reports) ends the open connections within that time.
"""

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import caches

CHUNK = 500  # ids per query when re-reading many users


@dataclass(frozen=True, slots=True)
class Standing:
    is_active: bool
    is_staff: bool


GONE = Standing(is_active=False, is_staff=False)  # no such user (deleted)


def _cache():
    return caches["admission"]


def _key(user_id):
    return f"standing:{user_id}"


def _read(user_ids):
    """``{user_id: Standing}`` from the database; a deleted user is GONE."""
    found = {user_id: GONE for user_id in user_ids}
    rows = (
        get_user_model()
        ._default_manager.filter(pk__in=user_ids)
        .values_list("pk", "is_active", "is_staff")
    )
    for pk, is_active, is_staff in rows:
        found[pk] = Standing(is_active=is_active, is_staff=is_staff)
    return found


def kept_seconds():
    """How long what was read is kept: a little longer than the sweep's interval,
    so that the sweep renews the entries of connected users before they expire
    (an event never waits for a query), and never 2 s stale with the default."""
    return settings.PERMISSION_RECHECK_SECONDS * 1.5


def remember(standings):
    """Keep ``{user_id: Standing}`` read just now, for ``kept_seconds()``."""
    _cache().set_many(
        {_key(user_id): standing for user_id, standing in standings.items()}, kept_seconds()
    )


def now(user_id):
    """The user's standing as the database says it now."""
    standing = _read([user_id])[user_id]
    remember({user_id: standing})
    return standing


def current(user_id):
    """The user's standing, read at most 1.5 x PERMISSION_RECHECK_SECONDS ago."""
    standing = _cache().get(_key(user_id))
    return standing if standing is not None else now(user_id)


def forget(user_id):
    """The user changed in this process: the next look reads the database."""
    _cache().delete(_key(user_id))


def inactive(user_ids):
    """Re-read the standing of ``user_ids`` (the users connected here), in bulk,
    and keep it; the ids of those whose account is inactive or gone."""
    user_ids = list(user_ids)
    ended = set()
    for start in range(0, len(user_ids), CHUNK):
        fresh = _read(user_ids[start : start + CHUNK])
        remember(fresh)
        ended.update(user_id for user_id, standing in fresh.items() if not standing.is_active)
    return ended
