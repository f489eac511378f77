"""chat.standing: a user's active and staff flags as the database says them,
now or at most PERMISSION_RECHECK_SECONDS ago, whatever changed them."""

import pytest
from django.contrib.auth import get_user_model

from chat import standing
from chat.connection import Member, forget_user
from chat.moderation import may_delete, must_be_staff
from chat.payloads import Refused

pytestmark = pytest.mark.django_db


def users():
    return get_user_model()._default_manager


@pytest.fixture
def alice_user():
    return users().create_user("alice")


@pytest.fixture
def bob_user():
    return users().create_user("bob")


@pytest.fixture
def carol_user():
    return users().create_user("carol")


def alice_in_general(alice_user):
    return Member(
        user_id=alice_user.pk, username="alice", room_id=1, room_slug="general", room_name="General"
    )


def test_is_active_reads_once_then_remembers(alice_user, django_assert_num_queries, settings):
    settings.PERMISSION_RECHECK_SECONDS = 60
    with django_assert_num_queries(1):
        assert standing.is_active(alice_user.pk)
        assert standing.is_active(alice_user.pk)


def test_now_always_reads_the_database(alice_user, django_assert_num_queries):
    standing.is_active(alice_user.pk)
    users().filter(pk=alice_user.pk).update(is_staff=True)  # no signal: as plain SQL
    with django_assert_num_queries(1):
        assert standing.now(alice_user.pk).is_staff


def test_a_change_in_this_process_is_forgotten_at_once(alice_user, settings):
    settings.PERMISSION_RECHECK_SECONDS = 60
    assert standing.is_active(alice_user.pk)
    users().filter(pk=alice_user.pk).update(is_active=False)
    forget_user(alice_user.pk)  # what the post_save signal does
    assert not standing.is_active(alice_user.pk)


def test_inactive_names_the_deactivated_and_the_deleted(alice_user, bob_user, carol_user):
    users().filter(pk=bob_user.pk).update(is_active=False)
    carol_pk = carol_user.pk
    carol_user.delete()
    assert standing.inactive([alice_user.pk, bob_user.pk, carol_pk]) == {bob_user.pk, carol_pk}
    assert standing.now(carol_pk) == standing.GONE


def test_what_the_sweep_read_is_kept_then_read_again(
    alice_user, bob_user, django_assert_num_queries, monkeypatch, settings
):
    settings.PERMISSION_RECHECK_SECONDS = 1
    clock = [1000.0]
    monkeypatch.setattr(standing.time, "monotonic", lambda: clock[0])
    users().filter(pk=bob_user.pk).update(is_active=False)
    standing.inactive([alice_user.pk, bob_user.pk])
    with django_assert_num_queries(0):  # every event checks: no query while it is fresh
        assert standing.is_active(alice_user.pk)
        assert not standing.is_active(bob_user.pk)
    users().filter(pk=alice_user.pk).update(is_active=False)  # plain SQL: no signal
    clock[0] += 1.49
    assert standing.is_active(alice_user.pk)
    clock[0] += 0.02  # 1.5 x PERMISSION_RECHECK_SECONDS: read again
    with django_assert_num_queries(1):
        assert not standing.is_active(alice_user.pk)


def test_inactive_reads_in_chunks(alice_user, django_assert_num_queries, monkeypatch):
    monkeypatch.setattr(standing, "CHUNK", 2)
    with django_assert_num_queries(3):
        assert standing.inactive([alice_user.pk, 10_001, 10_002, 10_003, 10_004]) == {
            10_001,
            10_002,
            10_003,
            10_004,
        }


def test_staff_actions_follow_a_demotion_made_anywhere(alice_user):
    users().filter(pk=alice_user.pk).update(is_staff=True)
    member = alice_in_general(alice_user)
    must_be_staff(member)
    users().filter(pk=alice_user.pk).update(is_staff=False)
    with pytest.raises(Refused, match="Only staff"):
        must_be_staff(member)


def test_deleting_another_users_message_needs_staff_now(alice_user, bob_user):
    class Message:
        deleted = False
        author_id = bob_user.pk

    member = alice_in_general(alice_user)
    with pytest.raises(Refused, match="your own messages"):
        may_delete(member, Message)
    users().filter(pk=alice_user.pk).update(is_staff=True)
    may_delete(member, Message)
