"""chat.access: who sees which room; direct rooms; creating rooms; members."""

import re

import pytest

from chat import access
from chat.forms import RoomForm
from chat.models import Membership, Message, ReadMark, Room
from tests.support.people import make_user

pytestmark = pytest.mark.django_db
SECRET_SLUG = re.compile(r"^[0-9a-f]{24}$")


def slugs(rooms):
    return sorted(room.slug for room in rooms)


def test_the_exercise_rooms_are_open_and_seen_by_everyone(alice):
    assert set(Room.objects.values_list("kind", flat=True)) == {"open"}
    assert slugs(access.visible_rooms(alice.pk)) == ["cats", "general", "random"]


def test_a_private_room_is_seen_by_its_members_only(team, alice, bob, carol):
    assert team.slug in slugs(access.visible_rooms(alice.pk))
    assert team.slug in slugs(access.visible_rooms(bob.pk))
    assert team.slug not in slugs(access.visible_rooms(carol.pk))
    assert access.may_see(bob.pk, team.pk, team.kind)
    assert not access.may_see(carol.pk, team.pk, team.kind)
    assert access.room_for_page(carol, team.slug) is None
    assert access.room_for_page(bob, team.slug) == team


def test_staff_who_are_not_members_do_not_see_a_private_room_in_the_chat(team):
    boss = make_user("boss", is_staff=True)
    assert access.room_for_page(boss, team.slug) is None
    assert access.may_manage(boss, team)  # they manage its members (here and in the admin)


def test_private_and_direct_slugs_are_secret_and_say_nothing_of_people(team, alice, bob):
    direct = access.direct_room(alice, bob)
    for room in (team, direct):
        assert SECRET_SLUG.match(room.slug), room.slug
    assert team.slug != direct.slug


def test_open_rooms_get_a_readable_unique_slug(alice):
    first = access.create_room(alice, "Deploys", Room.Kind.OPEN)
    assert first.slug == "deploys"
    dm = access.create_room(alice, "DM", Room.Kind.OPEN)
    assert dm.slug == "dm-room"  # /chat/dm/ is the direct messages' path


def test_the_direct_room_of_two_people_is_one_whoever_opens_it(alice, bob, carol):
    first = access.direct_room(alice, bob)
    assert access.direct_room(bob, alice) == first
    assert access.direct_room(alice, bob) == first
    assert access.direct_room(alice, carol) != first
    assert sorted(first.members.values_list("username", flat=True)) == ["alice", "bob"]
    assert not access.may_see(carol.pk, first.pk, first.kind)


def test_notes_to_self(alice):
    notes = access.direct_room(alice, alice)
    assert list(notes.members.values_list("username", flat=True)) == ["alice"]
    assert access.title_for(notes, "alice") == "alice"
    assert access.direct_room(alice, alice) == notes


def test_direct_rooms_are_named_by_the_other_person_newest_first(alice, bob, carol):
    with_bob = access.direct_room(alice, bob)
    with_carol = access.direct_room(alice, carol)
    Message.objects.create(room=with_bob, author=bob, text="hi")
    Message.objects.create(room=with_carol, author=carol, text="later")
    listed = access.direct_rooms(alice.pk, "alice")
    assert [(room.pk, room.other) for room in listed] == [
        (with_carol.pk, "carol"),
        (with_bob.pk, "bob"),
    ]
    assert [room.other for room in access.direct_rooms(bob.pk, "bob")] == ["alice"]
    assert access.direct_rooms(carol.pk, "carol")[0].other == "alice"
    assert access.title_for(with_bob, "bob") == "alice"


def test_direct_rooms_never_show_in_the_rooms_list(alice, bob):
    access.direct_room(alice, bob)
    assert all(room.kind != "direct" for room in access.visible_rooms(alice.pk))


def test_a_new_member_counts_unread_from_their_arrival(team, alice, carol):
    Message.objects.create(room=team, author=alice, text="before carol")
    access.add_member(alice, team, "carol")
    mark = ReadMark.objects.get(user=carol, room=team)
    assert mark.last_read_id == Message.objects.get(text="before carol").pk


def test_only_the_creator_and_staff_change_members(team, alice, bob, carol):
    with pytest.raises(access.NotAllowed, match="creator and staff"):
        access.add_member(bob, team, "carol")
    access.add_member(alice, team, "carol")
    with pytest.raises(access.NotAllowed, match="member already"):
        access.add_member(alice, team, "carol")
    boss = make_user("boss", is_staff=True)
    access.remove_member(boss, team, "carol")
    assert not Membership.objects.filter(room=team, user=carol).exists()
    with pytest.raises(access.NotAllowed, match="not a member"):
        access.remove_member(alice, team, "carol")
    with pytest.raises(access.NotAllowed, match="no user"):
        access.add_member(alice, team, "nobody")


def test_members_of_open_and_direct_rooms_are_not_managed(alice, bob):
    direct = access.direct_room(alice, bob)
    general = Room.objects.get(slug="general")
    for room in (direct, general):
        with pytest.raises(access.NotAllowed):
            access.add_member(alice, room, "bob")


def test_room_creation_can_be_kept_to_staff(settings, alice):
    settings.ROOM_CREATION = "staff"
    with pytest.raises(access.NotAllowed, match="Only staff"):
        access.create_room(alice, "Mine", Room.Kind.OPEN)
    boss = make_user("boss", is_staff=True)
    assert access.create_room(boss, "Theirs", Room.Kind.OPEN).kind == "open"


def test_membership_is_remembered_briefly_and_removed_finds_the_gone(team, bob, settings):
    settings.PERMISSION_RECHECK_SECONDS = 60
    assert access.is_member(bob.pk, team.pk)
    Membership.objects.filter(room=team, user=bob).delete()  # as plain SQL would (no forget)
    assert access.is_member(bob.pk, team.pk)  # remembered for PERMISSION_RECHECK_SECONDS
    assert access.removed([(bob.pk, team.pk)]) == {(bob.pk, team.pk)}
    assert not access.is_member(bob.pk, team.pk)  # the sweep refreshed what is remembered


def test_a_deleted_room_counts_as_removed_for_its_members(team, alice, bob):
    pk = team.pk
    team.delete()
    assert access.removed([(alice.pk, pk), (bob.pk, pk)]) == {(alice.pk, pk), (bob.pk, pk)}


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"name": "general", "kind": "open"}, "exists already"),  # the exercise's "General"
        ({"name": "", "kind": "open"}, "required"),
        ({"name": "x" * 101, "kind": "open"}, "at most 100"),
        ({"name": "New", "kind": "direct"}, "valid choice"),
        ({"name": "New", "kind": "private", "members": "bob, nobody"}, "No such user: nobody"),
        ({"name": "New", "kind": "open", "members": "bob"}, "members are for private rooms"),
    ],
)
def test_the_room_form_says_what_is_wrong(bob, data, error):
    form = RoomForm(data)
    assert not form.is_valid()
    assert error in str(form.errors)


def test_the_room_form_reads_members_separated_by_commas_or_spaces(bob, carol):
    form = RoomForm({"name": "Crew", "kind": "private", "members": "bob,  carol\nbob"})
    assert form.is_valid(), form.errors
    assert sorted(user.username for user in form.cleaned_data["members"]) == ["bob", "carol"]


def test_two_rooms_cannot_share_a_name_whatever_its_case(alice):
    access.create_room(alice, "Ops", Room.Kind.PRIVATE)
    assert "exists already" in str(RoomForm({"name": "OPS", "kind": "open"}).errors)


def test_mentioning_a_non_member_in_a_private_room_names_nobody(team, alice, carol):
    from chat.connection import Member
    from chat.messages import store_message

    member = Member(alice.pk, "alice", team.pk, team.slug, team.name, private=True)
    message, _ = store_message(member, "@bob and @carol, look")
    assert message["mentions"] == ["bob"]
    general = Room.objects.get(slug="general")
    in_general = Member(alice.pk, "alice", general.pk, "general", "General")
    assert store_message(in_general, "@bob and @carol")[0]["mentions"] == ["bob", "carol"]


def test_deleted_messages_are_not_unread_and_reading_clears_the_count(team, alice, bob):
    from chat import reading
    from chat.messages import delete_message

    kept = Message.objects.create(room=team, author=alice, text="kept")
    gone = Message.objects.create(room=team, author=alice, text="then deleted")
    assert reading.unread_count(bob.pk, team.pk) == 2
    delete_message(gone)
    assert reading.unread_count(bob.pk, team.pk) == 1
    assert reading.unread_counts(bob.pk)[team.slug] == 1
    reading.set_mark(bob.pk, team.pk, kept.pk)  # the newest line bob's page can show
    assert reading.unread_count(bob.pk, team.pk) == 0
    assert reading.unread_counts(bob.pk)[team.slug] == 0
