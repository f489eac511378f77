"""Which chat connections belong to which Django session, and whether those
sessions are still valid (logout, password change, expiry, deactivation)."""

from collections import defaultdict

from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.models import Session
from django.utils import timezone
from django.utils.crypto import constant_time_compare

SESSION_ENDED = "Your session has ended (logged out, expired or password changed)."
ACCOUNT_GONE = "Your account no longer exists."
ACCOUNT_INACTIVE = "Your account has been deactivated."
NO_LONGER_MEMBER = "You are no longer a member of this room."
CHUNK = 500


class ConnectionRegistry:
    """This process's chat connections: who each one is (a chat.connection.Member,
    or anything with ``session_key`` and ``user_id``), by session key and by user.

    Kept here rather than in python-socketio's per-connection session, which
    lives in the Engine.IO socket and is gone by the time a disconnect that
    python-engineio found inside a send is handled.
    """

    def __init__(self):
        self._by_sid = {}  # sid -> member
        self._by_session = defaultdict(set)
        self._by_user = defaultdict(set)

    def add(self, sid, member):
        self._by_sid[sid] = member
        self._by_session[member.session_key].add(sid)
        self._by_user[member.user_id].add(sid)

    def member(self, sid):
        """Who connection ``sid`` is, or None once it has gone."""
        return self._by_sid.get(sid)

    def remove(self, sid):
        """Forget a connection; who it was, or None if it was not known."""
        member = self._by_sid.pop(sid, None)
        if member is None:
            return None
        for index, key in ((self._by_session, member.session_key), (self._by_user, member.user_id)):
            sids = index[key]
            sids.discard(sid)
            if not sids:
                del index[key]
        return member

    def sids_of_session(self, session_key):
        return set(self._by_session.get(session_key, ()))

    def sids_of_user(self, user_id):
        return set(self._by_user.get(user_id, ()))

    def private_connections(self):
        """``(sid, member)`` of every connection to a private or direct room."""
        return [(sid, member) for sid, member in self._by_sid.items() if member.private]

    def sids_in_room(self, user_id, room_id):
        """The user's connections to one room."""
        return {
            sid
            for sid in self._by_user.get(user_id, ())
            if getattr(self._by_sid[sid], "room_id", None) == room_id
        }

    def user_ids(self):
        """Every user with a live connection here."""
        return list(self._by_user)

    def sessions(self):
        """session key -> user id, for every session with a live connection."""
        return {
            key: self._by_sid[next(iter(sids))].user_id for key, sids in self._by_session.items()
        }

    def sessions_of_user(self, user_id):
        return {self._by_sid[sid].session_key: user_id for sid in self._by_user.get(user_id, ())}


def ended_sessions(sessions):
    """Which of ``{session_key: user_id}`` are no longer valid, with the reason.

    Django's own rule (``django.contrib.auth.get_user``) applied in bulk: the
    session must exist and not be expired, name the same user, and carry the
    user's current auth hash (a password change invalidates it); the user must
    exist and be active. A few queries per CHUNK sessions, whatever their number.
    """
    ended = {}
    items = list(sessions.items())
    for start in range(0, len(items), CHUNK):
        chunk = dict(items[start : start + CHUNK])
        alive = Session.objects.filter(session_key__in=chunk, expire_date__gt=timezone.now())
        data = {session.session_key: session.get_decoded() for session in alive}
        users = get_user_model()._default_manager.in_bulk(set(chunk.values()))
        for key, user_id in chunk.items():
            reason = _why_ended(data.get(key), users.get(user_id), user_id)
            if reason:
                ended[key] = reason
    return ended


def _why_ended(session_data, user, user_id):
    if session_data is None:
        return SESSION_ENDED
    if user is None:
        return ACCOUNT_GONE
    if not getattr(user, "is_active", True):
        return ACCOUNT_INACTIVE
    if str(session_data.get(SESSION_KEY)) != str(user_id):
        return SESSION_ENDED
    if not constant_time_compare(
        session_data.get(HASH_SESSION_KEY, ""), user.get_session_auth_hash()
    ):
        return SESSION_ENDED
    return None
