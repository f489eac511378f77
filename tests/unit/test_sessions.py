"""chat.sessions: tracking connections per session, and spotting ended sessions."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from chat.sessions import (
    ACCOUNT_GONE,
    ACCOUNT_INACTIVE,
    SESSION_ENDED,
    ConnectionRegistry,
    ended_sessions,
)


def member(session_key, user_id):
    return SimpleNamespace(session_key=session_key, user_id=user_id)


def test_registry_indexes_by_session_and_user():
    registry = ConnectionRegistry()
    first = member("key-a", 1)
    registry.add("s1", first)
    registry.add("s2", member("key-a", 1))
    registry.add("s3", member("key-b", 2))
    assert registry.member("s1") is first
    assert registry.sids_of_session("key-a") == {"s1", "s2"}
    assert registry.sids_of_user(2) == {"s3"}
    assert registry.sessions() == {"key-a": 1, "key-b": 2}
    assert registry.remove("s1") is first
    assert registry.member("s1") is None
    registry.remove("s2")
    assert registry.remove("unknown") is None
    assert registry.sids_of_session("key-a") == set()
    assert registry.sessions() == {"key-b": 2}
    assert registry.sessions_of_user(1) == {}


@pytest.fixture
def alice_user(db):
    return get_user_model().objects.create_user("alice", password="first password")


def logged_in_session(user):
    client = Client()
    client.force_login(user)
    return client.session.session_key


def test_valid_sessions_are_kept(alice_user):
    key = logged_in_session(alice_user)
    assert ended_sessions({key: alice_user.pk}) == {}


def test_logged_out_or_expired_sessions_end(alice_user):
    gone, expired = logged_in_session(alice_user), logged_in_session(alice_user)
    Session.objects.filter(session_key=gone).delete()
    Session.objects.filter(session_key=expired).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    assert ended_sessions({gone: alice_user.pk, expired: alice_user.pk}) == {
        gone: SESSION_ENDED,
        expired: SESSION_ENDED,
    }


def test_password_change_ends_sessions(alice_user):
    key = logged_in_session(alice_user)
    alice_user.set_password("second password")
    alice_user.save()
    assert ended_sessions({key: alice_user.pk}) == {key: SESSION_ENDED}


def test_deactivated_or_deleted_users_end(alice_user):
    bob = get_user_model().objects.create_user("bob", password="x")
    alice_key, bob_key = logged_in_session(alice_user), logged_in_session(bob)
    alice_user.is_active = False
    alice_user.save()
    bob_id = bob.pk
    bob.delete()
    ended = ended_sessions({alice_key: alice_user.pk, bob_key: bob_id})
    assert ended[alice_key] == ACCOUNT_INACTIVE
    # Deleting a user deletes nothing in the session table: the user is gone.
    assert ended[bob_key] in {ACCOUNT_GONE, SESSION_ENDED}


def test_many_sessions_take_few_queries(alice_user, django_assert_max_num_queries):
    keys = {logged_in_session(alice_user): alice_user.pk for _ in range(30)}
    with django_assert_max_num_queries(2):
        assert ended_sessions(keys) == {}
