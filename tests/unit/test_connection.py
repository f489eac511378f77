"""chat.connection: who may open a chat socket, checked on plain WSGI environs."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from chat.connection import (
    JoinRequest,
    admit,
    origin_allowed,
    parse_auth,
    user_and_session_from_environ,
)
from chat.payloads import Refused

PASSWORD = "correct horse battery"


@pytest.fixture
def alice_user(db):
    return get_user_model().objects.create_user("alice", password=PASSWORD)


def session_cookie_of(user):
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


def environ(cookie="", host="127.0.0.1:8000", scheme="http", **extra):
    return {"HTTP_COOKIE": cookie, "HTTP_HOST": host, "wsgi.url_scheme": scheme, **extra}


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        ({"room": "general"}, JoinRequest("general", None)),
        ({"room": "general", "after": 0}, JoinRequest("general", 0)),
        ({"room": "general", "after": 41}, JoinRequest("general", 41)),
    ],
)
def test_parse_auth_accepts(auth, expected):
    assert parse_auth(auth) == expected


@pytest.mark.parametrize(
    "auth",
    [
        None,
        "general",
        ["general"],
        {},
        {"room": ""},
        {"room": 3},
        {"room": "x" * 101},
        {"room": "gen\x00eral"},  # PostgreSQL refuses a NUL in a lookup
        {"room": "general room"},
        {"room": "general", "after": "12"},
        {"room": "general", "after": -1},
        {"room": "general", "after": True},
        {"room": "general", "after": 1.5},
        {"room": "general", "admin": True},
    ],
)
def test_parse_auth_refuses_malformed_payloads(auth):
    with pytest.raises(Refused):
        parse_auth(auth)


def test_session_cookie_resolves_the_user(alice_user):
    cookie = session_cookie_of(alice_user)
    user, key = user_and_session_from_environ(environ(cookie))
    assert (user.pk, user.username) == (alice_user.pk, "alice")
    assert key == cookie.split("=", 1)[1]


def test_admission_is_remembered_and_forgotten_when_the_user_changes(
    alice_user, django_assert_num_queries, settings
):
    settings.PERMISSION_RECHECK_SECONDS = 60  # what is remembered, for this test's whole run
    cookie = session_cookie_of(alice_user)
    admit(environ(cookie), {"room": "cats"})
    with django_assert_num_queries(0):  # the session's next connections: no query
        user_and_session_from_environ(environ(cookie))
        admit(environ(cookie), {"room": "cats"})
    alice_user.set_password("a new password for alice")
    alice_user.save()
    with pytest.raises(Refused, match="not logged in"):  # the old session is over
        user_and_session_from_environ(environ(cookie))


def test_a_logout_here_is_forgotten_at_once(alice_user, client):
    client.force_login(alice_user)
    cookie = f"sessionid={client.session.session_key}"
    user_and_session_from_environ(environ(cookie))
    client.logout()
    with pytest.raises(Refused, match="not logged in"):
        user_and_session_from_environ(environ(cookie))


@pytest.mark.parametrize("cookie", ["", "sessionid=", "sessionid=forged", "other=1", '"bad'])
def test_anonymous_or_forged_sessions_are_refused(db, cookie):
    with pytest.raises(Refused, match="not logged in"):
        user_and_session_from_environ(environ(cookie))


def test_inactive_user_is_refused(alice_user):
    cookie = session_cookie_of(alice_user)
    alice_user.is_active = False
    alice_user.save()
    with pytest.raises(Refused):
        user_and_session_from_environ(environ(cookie))


def test_password_change_invalidates_the_session(alice_user):
    cookie = session_cookie_of(alice_user)
    alice_user.set_password("a brand new password")
    alice_user.save()
    with pytest.raises(Refused):
        user_and_session_from_environ(environ(cookie))


def test_admit_unknown_room_is_refused(alice_user):
    with pytest.raises(Refused, match="no chat room"):
        admit(environ(session_cookie_of(alice_user)), {"room": "nowhere"})


def test_admit_returns_the_member(alice_user):
    auth = {"room": "cats", "after": 7, "since": 9}
    member, request = admit(environ(session_cookie_of(alice_user)), auth)
    assert (member.username, member.room_slug, member.room_name) == ("alice", "cats", "Cats")
    assert (request.after, request.since) == (7, 9)


def test_own_origin_is_allowed():
    assert origin_allowed("http://127.0.0.1:8000", environ())
    assert origin_allowed("http://localhost:8000", environ(host="localhost:8000"))


@pytest.mark.parametrize(
    ("origin", "env"),
    [
        ("http://evil.example", environ()),
        ("https://127.0.0.1:8000", environ()),  # scheme must match too
        ("http://127.0.0.1:9000", environ()),
        # The Host header is the attacker's choice: it must still be an allowed host.
        ("http://evil.example", environ(host="evil.example")),
        ("null", environ()),
    ],
)
def test_foreign_origins_are_refused(origin, env):
    assert not origin_allowed(origin, env)


def test_trusted_origins_are_allowed(settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://chat.example.com"]
    assert origin_allowed("https://chat.example.com", environ())


def test_https_behind_a_proxy_is_recognised(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.ALLOWED_HOSTS = ["chat.example.com"]
    env = environ(host="chat.example.com", HTTP_X_FORWARDED_PROTO="https")
    assert origin_allowed("https://chat.example.com", env)
    assert not origin_allowed("http://chat.example.com", env)
