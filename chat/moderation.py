"""Who may change what in a room: edits and deletes of messages, and mutes.
Plain rules over the database; every refusal is a ``Refused`` with a sentence
the user can read."""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from chat import standing
from chat.messages import chat_text
from chat.models import Mute
from chat.payloads import Refused, Schema, is_username, message_id

MUTE_MINUTES = (5, 60, 1440)


def mute_minutes(value):
    if isinstance(value, bool) or value not in MUTE_MINUTES:
        raise Refused("A mute lasts 5, 60 or 1440 minutes.")
    return value


def username(value):
    if not is_username(value):
        raise Refused('"user" must be a username.')
    return value


def boolean(name):
    def check(value):
        if not isinstance(value, bool):
            raise Refused(f'"{name}" must be true or false.')
        return value

    return check


EDIT = Schema(
    not_an_object='Edit with {"id": <id>, "text": "..."}.',
    fields={"id": message_id("id"), "text": chat_text},  # the rules of a new message
)
DELETE = Schema(not_an_object='Delete with {"id": <id>}.', fields={"id": message_id("id")})
MUTE = Schema(
    not_an_object='Mute with {"user": "<name>", "minutes": 5, 60 or 1440}.',
    fields={"user": username, "minutes": mute_minutes},
)
UNMUTE = Schema(not_an_object='Unmute with {"user": "<name>"}.', fields={"user": username})
TYPING = Schema(
    not_an_object='Say whether you type with {"typing": true or false}.',
    fields={"typing": boolean("typing")},
)


def may_edit(member, message):
    """Refused unless ``member`` may give ``message`` a new text now."""
    if message.deleted:
        raise Refused("This message was deleted.")
    if message.author_id != member.user_id:
        raise Refused("You can only edit your own messages.")
    window = timedelta(minutes=settings.MESSAGE_EDIT_MINUTES)
    if timezone.now() - message.created > window:
        raise Refused(
            f"Messages can be edited for {settings.MESSAGE_EDIT_MINUTES} minutes after "
            "they are sent."
        )


def may_delete(member, message):
    """Refused unless ``member`` may delete ``message``: its author, or staff."""
    if message.deleted:
        raise Refused("This message was deleted already.")
    if message.author_id != member.user_id and not standing.now(member.user_id).is_staff:
        raise Refused("You can only delete your own messages.")


def must_be_staff(member):
    """Refused unless ``member`` is staff now (a demotion stops the next action)."""
    if not standing.now(member.user_id).is_staff:
        raise Refused("Only staff can do that.")


def muted_until(user_id, room_id):
    """When the user's mute in the room ends, or None when they may write."""
    return (
        Mute.objects.filter(room_id=room_id, user_id=user_id, until__gt=timezone.now())
        .order_by("-until")
        .values_list("until", flat=True)
        .first()
    )


def refuse_if_muted(member):
    until = muted_until(member.user_id, member.room_id)
    if until is not None:
        local = timezone.localtime(until)
        raise Refused(
            f"You are muted in this room until {local:%H:%M}.",
            muted_until=until.isoformat().replace("+00:00", "Z"),
        )


def mute(member, name, minutes):
    """Staff ``member`` mutes user ``name`` in its room; the Mute."""
    must_be_staff(member)
    user = _user_named(name)
    until = timezone.now() + timedelta(minutes=minutes)
    return Mute.objects.create(room_id=member.room_id, user=user, until=until, by_id=member.user_id)


def unmute(member, name):
    """Staff ``member`` ends every mute of ``name`` in its room now."""
    must_be_staff(member)
    user = _user_named(name)
    now = timezone.now()
    return Mute.objects.filter(room_id=member.room_id, user=user, until__gt=now).update(until=now)


def _user_named(name):
    user = get_user_model()._default_manager.filter(username=name).first()
    if user is None:
        raise Refused(f"There is no user {name!r}.")
    return user
