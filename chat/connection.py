"""Rules for accepting a Socket.IO connection: who is it, which room, from where.

Everything here works on a plain WSGI ``environ`` and the client's auth payload,
so it is unit-tested without sockets.
"""

from dataclasses import dataclass
from importlib import import_module
from types import SimpleNamespace
from typing import ClassVar
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user
from django.core.cache import caches
from django.http.cookie import parse_cookie
from django.http.request import split_domain_port, validate_host

from chat import access, standing
from chat.models import Room
from chat.payloads import Refused, Schema, is_slug, message_id, optional


@dataclass(frozen=True)
class JoinRequest:
    room_slug: str
    after: int | None
    since: int | None = None


@dataclass(frozen=True, slots=True)  # one per connection: no per-instance dict
class Member:
    """An accepted connection: who is talking in which room."""

    user_id: int
    username: str
    room_id: int
    room_slug: str
    room_name: str
    session_key: str = ""
    private: bool = False  # a private or direct room: membership is checked at each event
    namespace: ClassVar[str] = "/"


@dataclass(frozen=True, slots=True)
class Visitor:
    """An accepted connection to the room list (``/lobby``): who is looking."""

    user_id: int
    username: str
    session_key: str
    private: ClassVar[bool] = False
    namespace: ClassVar[str] = "/lobby"


def room_slug(value):
    # A slug's shape before any lookup: PostgreSQL refuses a NUL in a query
    # (an error that is not the database's: it would leave the connect unanswered).
    if not is_slug(value):
        raise Refused('"room" must be the slug of a chat room.')
    return value


AUTH = Schema(
    not_an_object='Connect with the auth payload {"room": "<slug>"}.',
    unexpected="Unexpected auth field(s): {}.",
    fields={
        "room": room_slug,
        "after": optional(message_id("after")),
        "since": optional(message_id("since")),
    },
)


def parse_auth(auth):
    """Validate the connect payload ``{"room": slug, "after"?: id, "since"?: seq}``."""
    fields = AUTH.validate(auth)
    return JoinRequest(room_slug=fields["room"], after=fields["after"], since=fields["since"])


def find_room(slug):
    """The room ``(pk, slug, name, kind)`` of ``slug``, or Refused."""
    cache = _admission()
    key = f"room:{cache.get('rooms', 0)}:{slug}"
    room = cache.get(key)
    if room is None:
        found = Room.objects.filter(slug=slug).values_list("pk", "slug", "name", "kind").first()
        if found is None:
            raise Refused(f"There is no chat room {slug!r}.")
        room = found
        cache.set(key, room, 60)
    return SimpleNamespace(pk=room[0], slug=room[1], name=room[2], kind=room[3])


def session_key_from_environ(environ):
    """The session cookie's value, parsed as Django parses the Cookie header
    for its pages (``SimpleCookie`` gives up on the whole header at the first
    odd cookie another site or script set, and the chat said "not logged in")."""
    return parse_cookie(environ.get("HTTP_COOKIE", "")).get(settings.SESSION_COOKIE_NAME)


@dataclass(frozen=True, slots=True)
class KnownUser:
    """What a connection needs of its user (what may change, such as staff,
    is read where it is used: chat.standing)."""

    pk: int
    username: str


def user_and_session_from_environ(environ):
    """The logged-in user of the session cookie and the session key, by Django's
    rules; Refused for anonymous connections."""
    key = session_key_from_environ(environ)
    user = known_user(key) if key else None
    if user is None:
        raise Refused("You are not logged in.")
    return user, key


# A join used to cost a query for the session, one for its user and one for the
# room before its history: a reconnect storm paid them all again. What they say
# is remembered in this process (the "admission" cache, see settings.CACHES),
# and forgotten when it changes here (chat.apps connects the signals); a change
# made by another process shows within SESSION_RECHECK_SECONDS, as it already
# did for open connections (chat.background.recheck_sessions). Whether the
# account is active is not left to that: it is read at most
# PERMISSION_RECHECK_SECONDS ago (chat.standing).
def _admission():
    return caches["admission"]


def known_user(session_key):
    """The user logged in by ``session_key`` by Django's rules, or None.

    ``django.contrib.auth.get_user`` checks the session's auth hash (a password
    change logs other sessions out) and the backend's ``get_user`` refuses
    inactive users.
    """
    cache = _admission()
    remembered = cache.get(f"session:{session_key}")
    if remembered is not None:
        user, generation = remembered
        if cache.get(f"user:{user.pk}", 0) == generation:
            return user if standing.is_active(user.pk) else None
    engine = import_module(settings.SESSION_ENGINE)
    found = get_user(SimpleNamespace(session=engine.SessionStore(session_key)))
    if not found.is_authenticated:
        return None
    standing.remember([found.pk], found.is_active)
    user = KnownUser(pk=found.pk, username=found.get_username())
    generation = cache.get(f"user:{user.pk}", 0)
    cache.set(f"session:{session_key}", (user, generation), settings.SESSION_RECHECK_SECONDS)
    return user


def forget_session(session_key):
    """The session ended here (a logout): admit nothing with it any more."""
    _admission().delete(f"session:{session_key}")


def forget_user(user_id):
    """The user changed (password, active flag) or is gone: check their sessions again."""
    cache = _admission()
    cache.set(f"user:{user_id}", cache.get(f"user:{user_id}", 0) + 1, None)
    standing.forget(user_id)


def forget_rooms():
    """A room was added, renamed or removed."""
    cache = _admission()
    cache.set("rooms", cache.get("rooms", 0) + 1, None)


def _request_origin(environ):
    scheme = environ.get("wsgi.url_scheme", "http")
    proxy_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy_header and environ.get(proxy_header[0], "").split(",")[0].strip() == proxy_header[1]:
        scheme = "https"
    return f"{scheme}://{environ.get('HTTP_HOST', '')}"


def origin_allowed(origin, environ):
    """python-engineio's origin check, made consistent with Django's settings.

    A browser's WebSocket carries an Origin that the server must check itself
    (cross-site WebSocket hijacking): accept the site's own origin when its host
    is one of ALLOWED_HOSTS, and the origins listed in CSRF_TRUSTED_ORIGINS.
    Clients that send no Origin (not browsers) are not asked by engineio.
    """
    if not origin:
        return True
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    if origin != _request_origin(environ):
        return False
    host, _port = split_domain_port(urlsplit(origin).netloc)
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    return bool(host) and validate_host(host, allowed)


def admit_visitor(environ):
    """Check a connection to the room list: a logged-in user, or Refused."""
    user, session_key = user_and_session_from_environ(environ)
    return Visitor(user_id=user.pk, username=user.username, session_key=session_key)


def admit(environ, auth):
    """Check a connection attempt; ``(member, JoinRequest)``, or Refused with the reason."""
    request = parse_auth(auth)
    user, session_key = user_and_session_from_environ(environ)
    room = find_room(request.room_slug)
    access.refuse_unless_visible(user.pk, room)
    member = Member(
        user_id=user.pk,
        username=user.username,
        room_id=room.pk,
        room_slug=room.slug,
        room_name=room.name,
        session_key=session_key,
        private=room.kind != Room.Kind.OPEN,
    )
    return member, request
