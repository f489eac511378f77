"""The chat's work that no client event starts: presence upkeep between
processes, redelivery after a Redis reconnect, and ending the connections of
Django sessions that ended (logout, password change, deactivation, expiry).
"""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model, user_logged_out
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from chat import access, messages, standing
from chat.attachments import parts
from chat.connection import forget_session, forget_user
from chat.models import Membership, Room
from chat.sessions import ACCOUNT_GONE, ACCOUNT_INACTIVE, NO_LONGER_MEMBER, ended_sessions
from chat.signals import message_changed
from d09.runtime.event_db import with_event_db_connection

logger = logging.getLogger(__name__)


def start(server, chat, backend):
    """Start everything in this module for one server process."""
    if backend.multi_process:
        server.start_background_task(keep_presence, server, chat, backend)
    watch_sessions(server, chat.registry)
    watch_memberships(server, chat)
    watch_message_changes(chat)
    server.start_background_task(
        every, settings.PERMISSION_RECHECK_SECONDS, end_revoked, server, chat.registry
    )
    if settings.SESSION_RECHECK_SECONDS > 0:
        server.start_background_task(
            every, settings.SESSION_RECHECK_SECONDS, recheck_sessions, server, chat.registry
        )
    # Unfinished uploads no chunk came for: their parts leave the disk.
    server.start_background_task(
        every, max(10, settings.ATTACHMENT_PENDING_SECONDS // 4), expire_uploads, server, None
    )


def expire_uploads(server, registry):
    """Delete the unfinished uploads that have waited too long (chat.attachments.parts)."""
    parts.expire()


def keep_presence(server, chat, backend):
    """Forever, every ``backend.upkeep_interval`` seconds: prove this process
    alive, remove the users of dead processes, redeliver what Redis dropped.

    A process killed without cleaning up stops heartbeating; after PRESENCE_TTL
    the next reap by any other process removes its users and announces it.
    """
    while True:
        try:
            resync_after_reconnect(server, backend.manager)
            if backend.manager.unsent:
                logger.info(
                    "republished %s broadcasts Redis had refused", backend.manager.republish()
                )
            chat.rooms.announce_elsewhere(backend.presence.heartbeat(), "presence heartbeat")
            chat.rooms.announce_elsewhere(backend.presence.reap(), "presence reap")
        except Exception:
            logger.exception("presence upkeep failed, retrying in %s s", backend.upkeep_interval)
        server.sleep(backend.upkeep_interval)


@with_event_db_connection
def resync_after_reconnect(server, manager):
    """Deliver, to this process's clients, what Redis pub/sub dropped while the
    subscription was down: every change of each room after the newest change
    number delivered here (new messages, edits, deletes), in change order. Pages
    skip ids they already show and keep messages in id order."""
    for slug, (newest_id, newest_seq) in manager.take_resync().items():
        room = Room.objects.filter(slug=slug).first()
        if room is None:
            continue
        changes, _complete = messages.changes_since(
            room.pk, slug, newest_seq, messages.GAP_FILL_LIMIT
        )
        for change in changes:
            event, data = _as_redelivery(change, newest_id)
            logger.info("resync: %s %s to %s after a Redis reconnect", event, change["id"], slug)
            server.emit(event, data, to=slug, ignore_queue=True)
            manager.delivered(slug, change, new=event == "message")


def _as_redelivery(change, newest_id):
    """The event a page applies for a change it missed: a message it never had
    comes whole (deleted or not), one it has is updated or deleted."""
    if change["id"] > newest_id:
        return "message", change
    if change["deleted"]:
        return "message_deleted", {"id": change["id"], "seq": change["seq"]}
    return "message_updated", change


def end_sessions(server, registry, ended):
    """End every connection of the sessions ``{session key: reason}`` that are over,
    and admit nothing more with them."""
    for key, reason in ended.items():
        forget_session(key)
        end_connections(server, registry, registry.sids_of_session(key), reason)


def end_connections(server, registry, sids, reason, scope=None):
    """Tell each connection why, then end its Socket.IO session (``scope``
    "room": only this room is closed to the user, the session goes on).

    The client closes the WebSocket itself on the DISCONNECT packet (the page's
    shim and python-socketio's client do). The WebSocket is not closed from
    here: closing a socket from another green thread than its reader left a
    stale reader in eventlet's hub, and the next connection to get that file
    descriptor (a PostgreSQL one, under psycopg2's wait callback) failed with
    "Second simultaneous read". A client that ignores the DISCONNECT keeps a
    bare Engine.IO session that can do nothing: no room, no events.
    """
    for sid in sids:
        member = registry.member(sid)
        namespace = member.namespace if member is not None else "/"
        logger.info("closing %s: %s", sid, reason)
        # Straight to the local socket: through Redis it could arrive after the close.
        ended = {"reason": reason} if scope is None else {"reason": reason, "scope": scope}
        server.emit("session_ended", ended, to=sid, namespace=namespace, ignore_queue=True)
        server.disconnect(sid, namespace=namespace)


def watch_sessions(server, registry):
    """Close this process's chat connections when their Django session ends here:
    logout, password change, deactivation or deletion of the user (Django's
    signals). The rest (expiry, another worker's logout) is ``recheck_sessions``'s,
    every SESSION_RECHECK_SECONDS."""
    User = get_user_model()

    def on_logout(sender, request, user, **kwargs):
        key = getattr(request.session, "session_key", None)
        if not key:
            return
        try:
            end_connections(server, registry, registry.sids_of_session(key), "You logged out.")
        except Exception:
            # The logout itself must happen (Django flushes the session after
            # this signal); the sockets then end at the next recheck.
            logger.exception("could not end the chat connections of a logged-out session")

    def recheck_user(sender, instance, update_fields=None, **kwargs):
        if update_fields is not None and set(update_fields) <= {"last_login"}:
            return  # every login saves last_login: nothing to recheck
        end_sessions(server, registry, ended_sessions(registry.sessions_of_user(instance.pk)))

    def on_user_deleted(sender, instance, **kwargs):
        end_connections(server, registry, registry.sids_of_user(instance.pk), ACCOUNT_GONE)

    # weak=False: the receivers are closures that nothing else keeps alive.
    user_logged_out.connect(on_logout, weak=False)
    post_save.connect(recheck_user, sender=User, weak=False)
    post_delete.connect(on_user_deleted, sender=User, weak=False)


@with_event_db_connection
def recheck_sessions(server, registry):
    sessions = registry.sessions()
    if not sessions:
        return
    end_sessions(server, registry, ended_sessions(sessions))


@with_event_db_connection
def end_revoked(server, registry):
    """End the connections whose permission is gone, wherever it was taken
    (plain SQL included): users deactivated or deleted (chat.standing), members
    removed from a private room or the room deleted (chat.access)."""
    for user_id in standing.inactive(registry.user_ids()):
        forget_user(user_id)
        end_connections(server, registry, registry.sids_of_user(user_id), ACCOUNT_INACTIVE)
    private = registry.private_connections()
    gone = access.removed([(member.user_id, member.room_id) for _sid, member in private])
    revoked = [sid for sid, member in private if (member.user_id, member.room_id) in gone]
    end_connections(server, registry, revoked, NO_LONGER_MEMBER, scope="room")


def watch_message_changes(chat):
    """A message edited or deleted in the admin of this process: its room's open
    pages get ``message_updated`` / ``message_deleted`` as after a chat edit."""

    def on_changed(sender, message, deleted, **kwargs):
        slug = message.room.slug
        if deleted:
            chat.rooms.tell(slug, "message_deleted", {"id": message.id, "seq": message.seq})
            return
        author = message.author.get_username()
        chat.rooms.tell(slug, "message_updated", messages.as_event(message, slug, author))

    message_changed.connect(on_changed, weak=False, dispatch_uid="chat-message-changed")


def watch_memberships(server, chat):
    """A member added to or removed from a room in this process (a page, the
    admin): the room and the member's room lists hear of it at once, and a
    removed member's connections to the room end at once. Other processes end
    theirs within PERMISSION_RECHECK_SECONDS (``end_revoked``)."""

    def on_added(sender, instance, created, **kwargs):
        if created:
            transaction.on_commit(lambda: announce_added(instance))

    def on_removed(sender, instance, **kwargs):
        transaction.on_commit(lambda: announce_removed(instance))

    def announce_added(instance):
        access.forget_membership(instance.user_id, instance.room_id)
        room, user = instance.room, instance.user
        if room.kind == Room.Kind.PRIVATE:
            by = instance.added_by.get_username() if instance.added_by else None
            notice = {"user": user.get_username(), "by": by}
            chat.rooms.tell(room.slug, "member_added", notice)
        chat.lobby.room_added(user, room)

    def announce_removed(instance):
        access.forget_membership(instance.user_id, instance.room_id)
        sids = chat.registry.sids_in_room(instance.user_id, instance.room_id)
        end_connections(server, chat.registry, sids, NO_LONGER_MEMBER, scope="room")
        room = Room.objects.filter(pk=instance.room_id).first()
        if room is None:
            return
        by = getattr(instance, "removed_by", None)
        notice = {"user": instance.user.get_username(), "by": by and by.get_username()}
        chat.rooms.tell(room.slug, "member_removed", notice)
        chat.lobby.room_removed(instance.user_id, room.slug)

    post_save.connect(on_added, sender=Membership, weak=False, dispatch_uid="chat-member-added")
    post_delete.connect(on_removed, sender=Membership, weak=False, dispatch_uid="chat-member-gone")


def every(interval, work, server, registry):
    """``work(server, registry)`` every ``interval`` seconds, for ever: the
    session recheck (``recheck_sessions``) and the permission one (``end_revoked``)."""
    while True:
        server.sleep(interval)
        try:
            work(server, registry)
        except Exception:  # keep watching whatever one round hit (DB down...)
            logger.exception("%s failed", work.__name__)
