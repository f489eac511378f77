"""What happens in a room: joining, leaving, posting, and telling the room.

Plain rules over a backend (presence and room locks, chat/backends/) and a
server that can ``emit(event, data, to=..., skip_sid=..., ignore_queue=...)``
and ``enter_room(sid, room)`` (python-socketio's, or a recorder in unit tests).

Every change of what a room's clients see happens under the room's lock
together with its broadcast, so that everyone in a room sees the same
sequence: history before anything else for a joiner, messages in id order, the
user list after each change.
"""

import contextlib
import logging
import math
import time

from django.conf import settings
from redis.exceptions import RedisError

from chat import messages, moderation, reading
from chat.backends.base import LockReentered, RoomBusy

logger = logging.getLogger(__name__)


class PresenceChurn:
    """Presence changes told in this process over the last second or so: the
    count of the current second plus the previous one's, weighted by how much
    of it is still within the last second (a sliding window in two integers)."""

    def __init__(self):
        self._second = 0
        self._count = 0
        self._previous = 0

    def add(self, now, changes):
        """Count ``changes`` at monotonic time ``now``; the changes per second now."""
        second = int(now)
        if second != self._second:
            self._previous = self._count if second == self._second + 1 else 0
            self._second, self._count = second, 0
        self._count += changes
        return self._count + self._previous * (1 - (now - second))


class Rooms:
    def __init__(self, server, backend, registry, lobby):
        self.server = server
        self.presence = backend.presence
        self.locks = backend.locks
        self.registry = registry  # chat.sessions.ConnectionRegistry
        self.lobby = lobby  # chat.lobby.Lobby: the room list's counts
        self._pending = {}  # room -> presence notices gathered for its next batch
        self._last_told = {}  # room -> when it last heard presence notices
        self.churn = PresenceChurn()  # presence changes per second in this process
        # A stopping worker (d09/runtime/drain.py): everybody leaves and comes
        # back in seconds; the rooms are not told (nor is the presence changed:
        # with Redis the process retires from it as it exits).
        self.departing = False

    def join(self, sid, member, after=None, since=None):
        """Admit connection ``sid`` of ``member`` into its room: its history
        first (what changed after ``since`` or ``after`` when it reconnects),
        then the notices."""
        with self.locks.hold(member.room_slug):
            # Straight to this process's socket, then into the room: no message
            # can arrive before the history, none falls in between. One still on
            # its way through Redis may arrive after the history that contains
            # it: pages skip ids they show.
            self.send_history(sid, member, after, since)
            self.server.enter_room(sid, member.room_slug)
            self.registry.add(sid, member)
            try:
                change = self.presence.join(sid, member.room_slug, member.username)
                logger.info("%s joined %s (%s)", member.username, member.room_slug, sid)
                self.announce(member.room_slug, [change], joiner=sid)
            except RedisError:
                # The connection is refused: it must not stay in the user list.
                self.registry.remove(sid)
                with contextlib.suppress(RedisError):
                    self.presence.leave(sid)
                raise

    def send_history(self, sid, member, after, since):
        """``history`` to a joiner. Coming back: every change after ``since`` (a
        change number: messages posted, edited, deleted) or the messages after
        ``after``. Entering: what a returning reader has not read, or the last 3
        messages. Its second argument says where unread messages start
        (``last_read``)."""
        # The room's change number: under the room's lock nothing changes it
        # while the history is read. It goes with the history ("seq"): where
        # the page's next reconnect starts ("since") even when nothing it was
        # sent carried a greater one.
        seq = messages.room_seq(member.room_id)
        last_read, complete = None, True
        if since is not None:
            backlog, complete = messages.changes_since(
                member.room_id, member.room_slug, since, room_at=seq
            )
        elif after is not None:
            backlog, complete = messages.history(member.room_id, member.room_slug, after)
        else:
            backlog, last_read = reading.entry_history(member, seq)
        if not complete:
            notice = {"reason": "More changed than can be filled in: showing the newest."}
            self.server.emit("history_reset", notice, to=sid, ignore_queue=True)
            backlog, _ = messages.history(member.room_id, member.room_slug, after=0)
        meta = {"last_read": last_read, "seq": seq}
        self.server.emit("history", (backlog, meta), to=sid, ignore_queue=True)

    def leave(self, sid, reason=None):
        """Connection ``sid`` has gone; the room hears of it if it was its user's last."""
        member = self.registry.remove(sid)
        if member is None or self.departing:
            return
        try:
            with self.locks.hold(member.room_slug):
                self._leave(sid, reason)
                return
        except (RoomBusy, LockReentered, RedisError) as error:
            logger.warning("%s left %s without the room lock: %r", sid, member.room_slug, error)
        # A leave is never dropped: without the lock, only the order of this
        # room's broadcasts around it is not guaranteed. If Redis fails here
        # too, the presence makes the leave at its next heartbeat.
        self._leave(sid, reason)

    def _leave(self, sid, reason):
        change = self.presence.leave(sid)
        if change is None:
            return
        logger.info("%s left %s (%s, %s)", change.user, change.room, sid, reason)
        self.announce(change.room, [change], skip_sid=sid)

    def post(self, member, text, client_message_id=None, attachment=None):
        """Store a validated line from ``member`` (with its file's ``attachment``
        fields, if any), then send it to the whole room.

        Returns ``(wire form, stored)``; a line whose ``client_message_id`` was
        seen before is neither stored nor sent again (``stored`` False). Stored
        first: whatever reached anyone is in the database. Refused while the
        author is muted in the room."""
        moderation.refuse_if_muted(member)
        with self.locks.hold(member.room_slug):
            message, stored = messages.store_message(
                member, text, client_message_id, attachment=attachment
            )
            if stored:
                self.server.emit("message", message, to=member.room_slug)
        if stored:
            self.lobby.activity(message)
        return message, stored

    def edit(self, member, message_id, text):
        """``member`` gives its message ``message_id`` a new text; the room
        gets the whole message (``message_updated``); its wire form. Refused
        while the author is muted: an edit publishes as a message does."""
        moderation.refuse_if_muted(member)
        with self.locks.hold(member.room_slug):
            message = messages.find(member.room_id, message_id)
            moderation.may_edit(member, message)
            messages.edit_message(message, text, member)
            updated = messages.as_event(message, member.room_slug, message.author.get_username())
            self.server.emit("message_updated", updated, to=member.room_slug)
        return updated

    def delete(self, member, message_id):
        """``member`` deletes message ``message_id`` (its own, or any when staff);
        the room gets ``message_deleted`` ``{"id", "seq"}``."""
        with self.locks.hold(member.room_slug):
            message = messages.find(member.room_id, message_id)
            moderation.may_delete(member, message)
            messages.delete_message(message)
            gone = {"id": message.id, "seq": message.seq}
            self.server.emit("message_deleted", gone, to=member.room_slug)
        return gone

    def typing(self, member, typing):
        """Tell the room (but the typist's own connections here) who is typing;
        a muted user may not say they type (only that they stopped)."""
        if typing:
            moderation.refuse_if_muted(member)
        own = list(self.registry.sids_of_user(member.user_id))
        news = {"user": member.username, "typing": typing}
        self.server.emit("typing", news, to=member.room_slug, skip_sid=own)

    def mute(self, member, name, minutes):
        """Staff ``member`` mutes ``name`` here; the room gets a ``muted`` notice."""
        mute = moderation.mute(member, name, minutes)
        notice = {"user": name, "until": messages.iso(mute.until), "by": member.username}
        self.server.emit("muted", notice, to=member.room_slug)
        return notice

    def unmute(self, member, name):
        """Staff ``member`` ends ``name``'s mute here; the room gets ``unmuted``."""
        moderation.unmute(member, name)
        self.server.emit("unmuted", {"user": name, "by": member.username}, to=member.room_slug)

    def tell(self, room, event, notice):
        """A notice to the whole room, in order with its other broadcasts."""
        with self.locks.hold(room):
            self.server.emit(event, notice, to=room)

    def announce(self, room, changes, joiner=None, skip_sid=None, whole_list=False):
        """The one place that tells a room about presence changes.

        Presence goes out as changes, never as a list per change (that cost
        O(N) per join, O(N²) to fill a room): each change that altered the list
        is announced to the room, ``joined`` / ``left`` ``{"user": name,
        "version": v}``, where ``v`` is the list's version after it. The full
        list goes only to a joiner (``users`` ``[names]``, ``{"version": v}``),
        and to the whole room once when the changes were made elsewhere
        (``whole_list``: a reap, a heartbeat after a Redis restart). A joiner
        whose user was already there (a second tab) is the only one told.
        """
        told = []
        for change in changes:
            notice = {"user": change.user, "version": change.version}
            if change.changed:
                told.append((change.event, notice))
            elif joiner is not None:
                self.server.emit(change.event, notice, to=joiner, ignore_queue=True)
        if told:
            self.tell_room(room, told, skip_sid)
            self.lobby.online(room)
        if joiner is not None:
            self.server.emit("users", self.user_list(room), to=joiner, ignore_queue=True)
        elif whole_list:
            self.server.emit("users", self.user_list(room), to=room)

    def tell_room(self, room, notices, skip_sid=None):
        """Send ``room`` its presence notices ``[(event, notice)]``.

        A room that heard none within PRESENCE_BATCH_MS hears them at once, one
        event each. In a busy room (a crowd arriving) they are gathered and sent
        once the window has passed, as one ``presence`` event ``{"changes":
        [{"event", "user", "version"}, ...]}``: a notice costs one delivery per
        member, so filling a room of N one by one cost N²/2 deliveries;
        gathered, it costs N per window.

        While the process sees a storm (more than PRESENCE_STORM_CHANGES a
        second, all rooms together: a restart, a wave of arrivals), every room
        gathers them for PRESENCE_STORM_BATCH_MS, a quiet one too. A storm
        spreads over every room: 10,000 pages coming back into 100 rooms bring
        each room a change or two a second, never two within 200 ms, so each
        went out alone, one delivery per member per change (about 500,000
        deliveries for such a restart, a fifth of the new worker's core).
        """
        now = time.monotonic()
        storm = self.churn.add(now, len(notices)) > settings.PRESENCE_STORM_CHANGES
        window = (settings.PRESENCE_STORM_BATCH_MS if storm else settings.PRESENCE_BATCH_MS) / 1000
        since_told = now - self._last_told.get(room, -math.inf)
        pending = self._pending.get(room)
        if pending is None and since_told >= window and not storm:
            self._emit_notices(room, notices, skip_sid)
            self._last_told[room] = now
            return
        if pending is None:
            pending = self._pending[room] = []
            delay = window - since_told if since_told < window else window
            self.server.start_background_task(self._tell_later, room, delay)
        pending.extend(notices)

    def _tell_later(self, room, delay):
        self.server.sleep(delay)
        try:
            with self.locks.hold(room):  # in order with the room's other broadcasts
                self._flush(room)
        except (RoomBusy, LockReentered, RedisError) as error:
            logger.warning("presence of %s told without the room lock: %r", room, error)
            self._flush(room)  # never dropped

    def _flush(self, room):
        notices = self._pending.pop(room, [])
        if notices:
            self._emit_notices(room, notices)
        self._last_told[room] = time.monotonic()

    def _emit_notices(self, room, notices, skip_sid=None):
        if len(notices) == 1:
            event, notice = notices[0]
            self.server.emit(event, notice, to=room, skip_sid=skip_sid)
            return
        changes = [{"event": event, **notice} for event, notice in notices]
        self.server.emit("presence", {"changes": changes}, to=room)

    def user_list(self, room):
        """The ``users`` event's arguments: the sorted names and ``{"version": v}``."""
        names, version = self.presence.snapshot(room)
        return names, {"version": version}

    def announce_elsewhere(self, changes, why):
        """Announce changes made outside the handlers (heartbeat, reap), room by
        room under each room's lock."""
        by_room = {}
        for change in changes:
            by_room.setdefault(change.room, []).append(change)
        for room, room_changes in by_room.items():
            with self.locks.hold(room):
                for change in room_changes:
                    if change.changed:
                        logger.info("%s: %s %s (%s)", room, change.user, change.event, why)
                self.announce(room, room_changes, whole_list=True)
