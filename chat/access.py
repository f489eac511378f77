"""Who may see which room: open rooms, private rooms (their members), direct
conversations (their two people, staff included).

Every path that shows a room or what it holds asks here: the pages, the
Socket.IO connect, each event of an open connection, the room list and its
live side, the admin. A room a user may not see is answered exactly as a room
that does not exist. Membership is read where the action is taken: at most
1.5 x PERMISSION_RECHECK_SECONDS old (the "admission" cache), and forgotten at once
when it changes in this process; each worker also re-reads, every that many
seconds, the memberships of its open connections (``removed``), so a removal
made anywhere ends them within that time.
"""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.db import IntegrityError, transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.utils.text import slugify

from chat import reading, standing
from chat.models import Membership, Message, Room
from chat.payloads import Refused, is_slug

CHUNK = 500
RESERVED_SLUGS = frozenset(
    {"dm", "files", "search"}
)  # first segments of /chat/ paths that are not rooms


class NotAllowed(Exception):
    """The user may not do that; the message says why, in words they can read."""


def _cache():
    return caches["admission"]


def _member_key(user_id, room_id):
    return f"member:{room_id}:{user_id}"


# -- seeing rooms -------------------------------------------------------------


def visible_rooms(user_id):
    """The open rooms and the private rooms the user belongs to, by name."""
    return Room.objects.filter(
        Q(kind=Room.Kind.OPEN) | Q(kind=Room.Kind.PRIVATE, memberships__user_id=user_id)
    ).order_by("name")


def readable_rooms(user_id):
    """Every room whose messages the user may read: the open rooms, and the
    private and direct rooms they belong to (read now, not from the cache)."""
    return Room.objects.filter(
        Q(kind=Room.Kind.OPEN)
        | Q(pk__in=Membership.objects.filter(user_id=user_id).values("room_id"))
    )


def direct_rooms(user_id, username):
    """The user's direct conversations, newest first, each with ``other``: the
    other person's name (their own in notes to self)."""
    newest = Message.objects.filter(room=OuterRef("pk")).order_by("-id").values("id")[:1]
    rooms = list(
        Room.objects.filter(kind=Room.Kind.DIRECT, memberships__user_id=user_id)
        .annotate(newest=Subquery(newest))  # an index lookup per room, no GROUP BY
        .order_by(F("newest").desc(nulls_last=True), "-pk")
    )
    others = dict(
        Membership.objects.filter(room__in=rooms)
        .exclude(user_id=user_id)
        .values_list("room_id", "user__username")
    )
    for room in rooms:
        room.other = others.get(room.pk, username)
    return rooms


def title_for(room, username):
    """What ``username`` calls ``room``: its name, or the other person's."""
    if room.kind != Room.Kind.DIRECT:
        return room.name
    return other_person(member_names(room.pk).values(), username)


def other_person(names, username):
    """Of a direct room's two people (``names``), the one who is not ``username``
    (``username`` again in notes to self)."""
    others = [name for name in names if name != username]
    return others[0] if others else username


def is_member(user_id, room_id):
    """Whether the user is a member of the room (read at most
    1.5 x PERMISSION_RECHECK_SECONDS ago: chat.standing.kept_seconds)."""
    key = _member_key(user_id, room_id)
    known = _cache().get(key)
    if known is None:
        known = Membership.objects.filter(room_id=room_id, user_id=user_id).exists()
        _cache().set(key, known, standing.kept_seconds())
    return known


def may_see(user_id, room_id, kind):
    """Whether the user may see the room and what it holds."""
    return kind == Room.Kind.OPEN or is_member(user_id, room_id)


def room_for_page(user, slug):
    """The room at ``slug`` if ``user`` may see it, else None (as if it did not
    exist). Only a room's address can name one: anything else (a NUL included)
    never reaches the database, which may refuse it."""
    if not is_slug(slug):
        return None
    room = Room.objects.filter(slug=slug).first()
    if room is None or not may_see(user.pk, room.pk, room.kind):
        return None
    return room


def member_names(room_id):
    """``{user_id: username}`` of a private or direct room's members."""
    return dict(Membership.objects.filter(room_id=room_id).values_list("user_id", "user__username"))


def removed(connections):
    """Of ``[(user_id, room_id)]`` (open connections to private and direct
    rooms), those whose membership is gone (removed, or the room deleted)."""
    pairs = list(set(connections))
    gone = set()
    for start in range(0, len(pairs), CHUNK):
        chunk = pairs[start : start + CHUNK]
        rows = Membership.objects.filter(
            room_id__in={room for _user, room in chunk}, user_id__in={user for user, _ in chunk}
        ).values_list("user_id", "room_id")
        present = set(rows)
        for user_id, room_id in chunk:
            _cache().set(
                _member_key(user_id, room_id),
                (user_id, room_id) in present,
                standing.kept_seconds(),
            )
        gone.update(pair for pair in chunk if pair not in present)
    return gone


def forget_membership(user_id, room_id):
    """A membership changed here: the next look reads the database."""
    _cache().delete(_member_key(user_id, room_id))


def refuse_unless_visible(user_id, room):
    """Refused, as for a room that does not exist, unless the user may see ``room``."""
    if not may_see(user_id, room.pk, room.kind):
        raise Refused(f"There is no chat room {room.slug!r}.")


# -- making rooms ---------------------------------------------------------------


def may_create_rooms(user):
    """ROOM_CREATION: ``everyone`` (any active user) or ``staff`` only."""
    if settings.ROOM_CREATION == "staff":
        return standing.now(user.pk).is_staff
    return True


def _open_slug(name):
    base = slugify(name)[:80] or "room"
    if base in RESERVED_SLUGS:
        base = f"{base}-room"
    slug, number = base, 2
    while Room.objects.filter(slug=slug).exists():
        slug, number = f"{base}-{number}", number + 1
    return slug


def _secret_slug():
    """Not guessable, and saying nothing of who is in the room."""
    return secrets.token_hex(12)


@transaction.atomic
def create_room(creator, name, kind, members=()):
    """A new open or private room named ``name``; a private one has ``creator``
    and ``members`` (users) as members."""
    if kind not in (Room.Kind.OPEN, Room.Kind.PRIVATE):
        raise NotAllowed("A room is open or private.")
    if not may_create_rooms(creator):
        raise NotAllowed("Only staff can create rooms here.")
    slug = _open_slug(name) if kind == Room.Kind.OPEN else _secret_slug()
    room = Room.objects.create(name=name, slug=slug, kind=kind, created_by=creator)
    if kind == Room.Kind.PRIVATE:
        for user in {creator, *members}:
            _join(room, user, creator)
    return room


def direct_key(first, second):
    low, high = sorted((first.pk, second.pk))
    return f"{low}:{high}"


def direct_room(user, other):
    """The direct conversation of ``user`` and ``other`` (the same one for both,
    whoever opens it first; ``other`` may be ``user``: notes to self)."""
    key = direct_key(user, other)
    room = Room.objects.filter(direct_key=key).first()
    if room is not None:
        return room
    try:
        with transaction.atomic():
            room = Room.objects.create(
                slug=_secret_slug(), kind=Room.Kind.DIRECT, direct_key=key, created_by=user
            )
            for person in {user, other}:
                _join(room, person, user)
    except IntegrityError:  # the other person opened it at the same moment
        room = Room.objects.get(direct_key=key)
    return room


def _join(room, user, by):
    """Make ``user`` a member, with a read mark at the room's newest message:
    from then on the room list counts what they have not read."""
    membership, made = Membership.objects.get_or_create(
        room=room, user=user, defaults={"added_by": by}
    )
    if made:
        reading.start_mark(user.pk, room.pk)
    return membership, made


# -- members --------------------------------------------------------------------


def may_manage(user, room):
    """The creator of a private room and staff add and remove its members."""
    if room.kind != Room.Kind.PRIVATE:
        return False
    return room.created_by_id == user.pk or standing.now(user.pk).is_staff


def _manageable(actor, room):
    if not may_manage(actor, room):
        raise NotAllowed("Only the room's creator and staff can change its members.")


def find_user(username):
    user = get_user_model()._default_manager.filter(username=username, is_active=True).first()
    if user is None:
        raise NotAllowed(f"There is no user {username!r}.")
    return user


def add_member(actor, room, username):
    """``actor`` adds ``username`` to private ``room``; the Membership (announced
    by chat.background), or NotAllowed."""
    _manageable(actor, room)
    user = find_user(username)
    membership, made = _join(room, user, actor)
    if not made:
        raise NotAllowed(f"{username} is a member already.")
    return membership


def remove_member(actor, room, username):
    """``actor`` removes ``username`` from private ``room``; their connections
    to it end (chat.background hears of the deletion)."""
    _manageable(actor, room)
    membership = Membership.objects.filter(room=room, user__username=username).first()
    if membership is None:
        raise NotAllowed(f"{username} is not a member.")
    membership.removed_by = actor  # read by the announcement
    membership.delete()
