"""The pages of private rooms and direct messages: a room a user may not see
answers exactly as a room that does not exist."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from chat import access
from chat.models import Membership, Message, Room
from tests.support.people import make_user

pytestmark = pytest.mark.django_db


def as_user(client, user):
    client.force_login(user)
    return client


def test_a_private_room_page_is_404_for_a_non_member_as_for_no_room(client, team, bob, carol):
    assert as_user(client, carol).get(team.get_absolute_url()).status_code == 404
    assert client.get("/chat/no-such-room/").status_code == 404
    page = as_user(client, bob).get(team.get_absolute_url())
    assert page.status_code == 200
    assert "Team &lt;b&gt;" in page.content.decode()  # a name is text


def test_the_room_list_shows_each_user_what_they_may_see(client, team, alice, carol):
    direct = access.direct_room(alice, carol)
    Message.objects.create(room=direct, author=alice, text="hello")
    page = as_user(client, carol).get(reverse("chat:index")).content.decode()
    assert team.slug not in page and "Team" not in page
    assert 'class="dm-link stretched-link" href="/chat/dm/alice/"' in page
    page = as_user(client, alice).get(reverse("chat:index")).content.decode()
    assert team.slug in page and "/chat/dm/carol/" in page


def test_a_direct_conversation_is_made_at_the_first_visit_and_found_after(client, alice, bob):
    page = as_user(client, alice).get("/chat/dm/bob/")
    assert page.status_code == 200
    room = Room.objects.get(kind="direct")
    assert page.context["title"] == "bob"
    assert as_user(client, bob).get("/chat/dm/alice/").context["room"] == room
    assert Room.objects.filter(kind="direct").count() == 1
    assert as_user(client, bob).get(room.get_absolute_url()).status_code == 200


def test_a_direct_conversation_is_nobody_elses_staff_included(client, alice, bob):
    room = access.direct_room(alice, bob)
    boss = make_user("boss", is_staff=True, is_superuser=True)
    assert as_user(client, boss).get(room.get_absolute_url()).status_code == 404
    assert as_user(client, boss).get("/chat/dm/nobody/").status_code == 404
    changelist = client.get(reverse("admin:chat_room_changelist")).content.decode()
    assert room.slug not in changelist
    assert client.get(reverse("admin:chat_room_change", args=[room.pk])).status_code == 302
    Message.objects.create(room=room, author=alice, text="a secret between two")
    messages = client.get(reverse("admin:chat_message_changelist")).content.decode()
    assert "a secret between two" not in messages


def test_the_admin_is_for_staff_only(client, team, alice):
    page = as_user(client, alice).get(reverse("admin:chat_room_change", args=[team.pk]))
    assert page.status_code == 302 and "/login/" in page["Location"]


def test_staff_manage_a_private_rooms_members_in_the_admin(client, team):
    boss = make_user("boss", is_staff=True, is_superuser=True)
    page = as_user(client, boss).get(reverse("admin:chat_room_change", args=[team.pk]))
    assert page.status_code == 200
    assert "memberships-TOTAL_FORMS" in page.content.decode()


def test_any_user_creates_a_room_with_the_form(client, alice, bob):
    answer = as_user(client, alice).post(
        reverse("chat:index"), {"name": "Crew", "kind": "private", "members": "bob"}
    )
    room = Room.objects.get(name="Crew")
    assert answer.status_code == 302 and answer["Location"] == room.get_absolute_url()
    assert sorted(room.members.values_list("username", flat=True)) == ["alice", "bob"]
    assert room.created_by == alice


def test_a_refused_room_form_says_why(client, alice):
    page = as_user(client, alice).post(reverse("chat:index"), {"name": "General", "kind": "open"})
    assert page.status_code == 200
    assert "A room with this name exists already." in page.content.decode()


def test_room_creation_kept_to_staff(client, settings, alice):
    settings.ROOM_CREATION = "staff"
    as_user(client, alice)
    assert 'id="new-room"' not in client.get(reverse("chat:index")).content.decode()
    answer = client.post(reverse("chat:index"), {"name": "Mine", "kind": "open"})
    assert answer.status_code == 403
    assert not Room.objects.filter(name="Mine").exists()


def test_an_anonymous_post_goes_to_the_login(client):
    answer = client.post(reverse("chat:index"), {"name": "Mine", "kind": "open"})
    assert answer.status_code == 302 and answer["Location"].startswith("/account")
    assert not Room.objects.filter(name="Mine").exists()


def test_the_creator_adds_and_removes_members_from_the_room_page(client, team, alice, carol):
    url = reverse("chat:members", args=[team.slug])
    as_user(client, alice)
    assert client.post(url, {"action": "add", "username": "carol"}).status_code == 302
    assert Membership.objects.filter(room=team, user=carol).exists()
    assert client.post(url, {"action": "remove", "username": "carol"}).status_code == 302
    assert not Membership.objects.filter(room=team, user=carol).exists()


def test_a_member_who_is_not_the_creator_cannot_change_members(client, team, bob):
    url = reverse("chat:members", args=[team.slug])
    page = as_user(client, bob).post(url, {"action": "add", "username": "alice"})
    assert page.status_code == 400
    assert "Only the room&#x27;s creator and staff" in page.content.decode()


def test_a_non_member_cannot_even_find_the_members_form(client, team, carol):
    url = reverse("chat:members", args=[team.slug])
    assert (
        as_user(client, carol).post(url, {"action": "add", "username": "carol"}).status_code == 404
    )
    assert not Membership.objects.filter(room=team, user=carol).exists()


def test_member_changes_need_a_csrf_token(team, alice):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    url = reverse("chat:members", args=[team.slug])
    assert strict.post(url, {"action": "add", "username": "carol"}).status_code == 403


def test_a_rooms_slug_and_kind_cannot_change_in_the_admin(client, team):
    boss = make_user("boss", is_staff=True, is_superuser=True)
    page = as_user(client, boss).get(reverse("admin:chat_room_change", args=[team.pk]))
    body = page.content.decode()
    assert 'name="slug"' not in body and 'name="kind"' not in body
    assert 'name="name"' in body
    assert 'name="slug"' in client.get(reverse("admin:chat_room_add")).content.decode()


@pytest.mark.parametrize(
    "data",
    [
        {"name": "x" * 10_000, "kind": "open"},
        {"name": "Crew", "kind": "direct"},
        {"name": "Crew", "kind": "private", "members": "bob," * 1000},
        {"name": "<script>alert(1)</script>", "kind": "private", "members": "nobody"},
        {"name": "   ", "kind": "open"},
        {},
    ],
)
def test_a_hostile_room_form_is_refused_with_errors_and_makes_nothing(client, alice, bob, data):
    rooms_before = Room.objects.count()
    page = as_user(client, alice).post(reverse("chat:index"), data)
    assert page.status_code == 200
    assert "field-error" in page.content.decode()
    assert "<script>alert(1)</script>" not in page.content.decode()  # echoed as text
    assert Room.objects.count() == rooms_before


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"action": "promote", "username": "carol"},
        {"action": "add", "username": "x" * 10_000},
        {"action": "add", "username": ""},
        {"action": ["add", "remove"], "username": "carol"},
    ],
)
def test_a_hostile_members_form_changes_nothing(client, team, alice, carol, data):
    page = as_user(client, alice).post(reverse("chat:members", args=[team.slug]), data)
    assert page.status_code == 400
    assert sorted(team.members.values_list("username", flat=True)) == ["alice", "bob"]


def test_the_members_form_takes_posts_only_and_direct_urls_need_an_active_user(client, team, bob):
    as_user(client, bob)
    assert client.get(reverse("chat:members", args=[team.slug])).status_code == 405
    make_user("gone", is_active=False)
    assert client.get("/chat/dm/gone/").status_code == 404
    assert client.get("/chat/dm/" + "x" * 5000 + "/").status_code == 404
    # No username: refused before the lookup (PostgreSQL refuses a NUL: a 500 there).
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/chat/dm/QZX%00ice/").status_code == 404
    assert not [query for query in queries if "QZX" in query["sql"]]
    assert not Room.objects.filter(kind="direct").exists()
