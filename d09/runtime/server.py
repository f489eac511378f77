"""The Socket.IO server class: python-socketio's ``Server`` with the guards it
leaves to applications.

This is the one class that overrides private methods of python-socketio, each
because no public hook exists for what it does. ``tests/unit/test_server.py``
checks that every overridden method still exists in the library with the
signature written here and is still called by it, so a library upgrade that
renames or bypasses one fails a test instead of silently dropping a guard.
"""

import logging

import socketio
from socketio import packet

from d09.runtime.deadlines import Deadlines
from d09.runtime.ping_spread import spread_pings
from d09.runtime.send_bound import bound, bound_sockets

logger = logging.getLogger(__name__)

# Event names the client may not send: they belong to the protocol itself.
RESERVED_EVENTS = frozenset({"connect", "disconnect", "connect_error"})

# Binary attachments one Socket.IO packet may announce ("451-[...]"). python-
# socketio takes up to ten digits' worth and keeps every attachment in memory
# until the last one comes: a client announcing a billion could fill the
# worker. The chat's own binary events carry one.
MAX_ATTACHMENTS = 4

# Methods of socketio.Server overridden below, with their parameters (the test
# compares these with the installed library).
OVERRIDDEN = {
    "_handle_event": ("self", "eio_sid", "namespace", "id", "data"),
    "_handle_eio_message": ("self", "eio_sid", "data"),
    "_handle_eio_connect": ("self", "eio_sid", "environ"),
    "_handle_eio_disconnect": ("self", "eio_sid", "reason"),
    "_handle_connect": ("self", "eio_sid", "namespace", "data"),
}


def _is_binary_packet(data):
    """Whether an Engine.IO message is a Socket.IO BINARY_EVENT or BINARY_ACK."""
    return isinstance(data, str) and data[:1] in ("5", "6")


class ChatServer(socketio.Server):
    """socketio.Server with these guards:

    - A client event named "connect"/"disconnect" (or not named by a string)
      would otherwise reach the handler of that name: it is refused.
    - An undecodable Socket.IO packet closes that connection (python-socketio
      logs a traceback and keeps it).
    - A client that opens an Engine.IO session but never connects to the
      namespace would be kept for as long as it answers pings: it is dropped
      after ``connect_timeout`` seconds (one sweeper for all of them).
    - python-engineio runs the disconnect of a client wherever it finds the
      client gone, including inside a send to it: inside another handler's
      room broadcast, under that room's lock. The disconnect handler then waited
      for the lock its own green thread held, and the room froze for good.
      Disconnects found by engineio are handled on a green thread of their own,
      after whatever found them has finished.
    - A connection whose socket closed while its connect handler was still
      running (python-socketio skips the disconnect of a half-connected client)
      is disconnected once the connect is through, so it leaves no ghost.
    - ``frame_budget`` (a rate limiter keyed by Engine.IO session) is spent by
      every frame a client sends, whatever it holds: unknown events, invalid
      payloads, events before the namespace connect. A client that runs out is
      closed; python-socketio alone would dispatch a flood for ever.
    - ``admit_transport(environ) -> bool`` may refuse a new Engine.IO session
      (HTTP 401, which clients retry with their backoff);
      ``transport_closed(environ)`` hears of every admitted session's end.
    - ``session_settled(environ)`` hears once of each new session that has
      connected to a namespace, gone, or been refused: what a join slot
      (d09.runtime.capacity.JoinSlots) waits for.
    - ``hold_reader(eio_sid, seconds)``: the connection's next frames are read
      only that much later (after the event being handled is answered). A
      client told to wait that asks again at once then costs nothing: its
      frames wait in its own socket buffers, not in the worker's CPU.
    - ``max_queued_bytes``: a connection that has that many bytes waiting to
      be written when more comes (a client that does not read) is closed
      (d09/runtime/send_bound.py); python-engineio's queue has no bound.
    - Each connection's first ping comes after a random share of the ping
      interval (d09/runtime/ping_spread.py), so that connections that arrived
      together are not pinged, nor cut by the ping timeout, together.
    - ``draining`` (a stopping worker, d09/runtime/drain.py): no new Engine.IO
      session is taken, and ``close_when_idle(eio_sid)`` closes a session once
      the event it is handling is answered, so that no ack of a stored message
      is cut off by the goodbye.
    - Binary packets (BINARY_EVENT "5", BINARY_ACK "6"): one announcing no
      attachment or more than MAX_ATTACHMENTS, or a text frame where an
      attachment is due (python-socketio would take it as the attachment), is
      malformed: the connection is closed. An attachment frame spends no frame
      token (its packet spent one): a file's chunks go at one token each, and
      past the budget a binary packet is read only once its token is there
      (the sender is slowed down, not closed: a 10 MB file is 160 chunks).
    """

    def __init__(
        self,
        *args,
        connect_timeout=10,
        frame_budget=None,
        admit_transport=None,
        transport_closed=None,
        session_settled=None,
        max_queued_bytes=0,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        bound_sockets(self.eio, max_queued_bytes)
        self.session_settled = session_settled
        self.frame_budget = frame_budget
        self.admit_transport = admit_transport
        self.transport_closed = transport_closed
        self.connect_timeout = connect_timeout
        self.connect_deadlines = Deadlines(connect_timeout) if connect_timeout > 0 else None
        self._deadline_sweeper = None
        self._holds = {}  # eio_sid -> seconds: set by a handler, taken once it is answered
        self.draining = False
        self._handling = set()  # eio_sids whose reader is inside an event
        self._close_after = set()  # of those, the ones to close once it is answered

    def _handle_event(self, eio_sid, namespace, id, data):
        event = data[0] if isinstance(data, list) and data else None
        if not isinstance(event, str) or event in RESERVED_EVENTS:
            logger.warning("refused client event %.60r from %s", event, eio_sid)
            if id is not None and self.manager.sid_from_eio_sid(eio_sid, namespace or "/"):
                error = {"ok": False, "error": "This event name is not allowed."}
                reply = self.packet_class(packet.ACK, namespace=namespace, id=id, data=[error])
                self._send_packet(eio_sid, reply)
            return
        super()._handle_event(eio_sid, namespace, id, data)

    def _handle_eio_message(self, eio_sid, data):
        attachment_due = eio_sid in self._binary_packet
        if not attachment_due and self.frame_budget is not None:
            wait = self.frame_budget.take(eio_sid)
            if wait and _is_binary_packet(data):
                # A file's chunks: slowed down to the budget's pace, not closed.
                # Not reading this connection meanwhile is the back-pressure.
                self.sleep(wait)
                self.frame_budget.take(eio_sid)  # the token it waited for
            elif wait:
                logger.warning("closing %s: it sent frames faster than its budget", eio_sid)
                self.eio.disconnect(eio_sid)
                return None
        self._handling.add(eio_sid)
        # A client that sends garbage is broken: say so in one line and close
        # it, so that it reconnects cleanly or goes away.
        try:
            if attachment_due and not isinstance(data, bytes):
                raise ValueError("a text frame where a binary attachment was due")
            result = super()._handle_eio_message(eio_sid, data)
            pending = self._binary_packet.get(eio_sid)
            if pending is not None and not 0 < pending.attachment_count <= MAX_ATTACHMENTS:
                raise ValueError(f"a binary packet of {pending.attachment_count} attachments")
            return result
        except (ValueError, TypeError, KeyError, IndexError) as error:
            self._binary_packet.pop(eio_sid, None)
            logger.warning("malformed packet from %s (%.80s): closing it", eio_sid, error)
            self.eio.disconnect(eio_sid)
        finally:
            self._handling.discard(eio_sid)
            self._after_event(eio_sid)

    def _after_event(self, eio_sid):
        seconds = self._holds.pop(eio_sid, 0)
        if eio_sid in self._close_after:
            self.close_session(eio_sid)
        elif seconds:
            # Handlers run on the connection's reader (async_handlers=False):
            # sleeping here is not reading that connection, and nothing else.
            self.sleep(seconds)

    def close_when_idle(self, eio_sid):
        """Close session ``eio_sid`` once the event its reader is handling is
        answered; at once if none."""
        if eio_sid in self._handling:
            self._close_after.add(eio_sid)
        else:
            self.close_session(eio_sid)

    def close_session(self, eio_sid):
        """Close session ``eio_sid`` now: its WebSocket is closed once what is
        queued is written.

        Without Engine.IO's CLOSE packet (``abort``): after that packet
        python-socketio's client does not reconnect, while every client comes
        back after a closed connection, each with its own backoff."""
        self._close_after.discard(eio_sid)
        socket = self.eio.sockets.get(eio_sid)
        if socket is not None and not (socket.closed or socket.closing):
            # wait=False: a client that does not read must not hold the caller.
            socket.close(wait=False, abort=True, reason=self.eio.reason.SERVER_DISCONNECT)

    def hold_reader(self, eio_sid, seconds):
        """Read ``eio_sid``'s next frames ``seconds`` from when its current
        event is answered."""
        self._holds[eio_sid] = max(seconds, self._holds.get(eio_sid, 0))

    def _handle_eio_connect(self, eio_sid, environ):
        if self.draining:  # the listener closes within a second; this is the gap
            self._settle(environ)
            return False
        if self.admit_transport is not None and not self.admit_transport(environ):
            self._settle(environ)
            return False
        if eio_sid in self.eio.sockets:  # absent only in unit tests without sockets
            spread_pings(bound(self.eio.sockets[eio_sid]))
        result = super()._handle_eio_connect(eio_sid, environ)
        if self.connect_deadlines is not None:
            self.connect_deadlines.add(eio_sid)
            if self._deadline_sweeper is None:  # started in the worker, on first use
                self._deadline_sweeper = self.start_background_task(self._sweep_forever)
        return result

    def _handle_eio_disconnect(self, eio_sid, reason):
        if self.frame_budget is not None:
            self.frame_budget.forget(eio_sid)
        self._settle(self.environ.get(eio_sid))
        if self.transport_closed is not None and eio_sid in self.environ:
            self.transport_closed(self.environ[eio_sid])
        self.start_background_task(super()._handle_eio_disconnect, eio_sid, reason)

    def _handle_connect(self, eio_sid, namespace, data):
        super()._handle_connect(eio_sid, namespace, data)
        self._settle(self.environ.get(eio_sid))
        socket = self.eio.sockets.get(eio_sid)
        if socket is None or socket.closed or socket.closing:
            sid = self.manager.sid_from_eio_sid(eio_sid, namespace or "/")
            if sid is not None and self.manager.is_connected(sid, namespace or "/"):
                logger.info("%s closed while it connected: disconnecting it", eio_sid)
                self._handle_eio_disconnect(eio_sid, self.reason.TRANSPORT_CLOSE)

    def _settle(self, environ):
        if self.session_settled is not None and environ is not None:
            self.session_settled(environ)

    def _in_a_namespace(self, eio_sid):
        """Whether the session connected to any namespace ("/" or "/lobby": a
        room list is a session that never joins "/")."""
        return any(
            self.manager.sid_from_eio_sid(eio_sid, namespace) is not None
            for namespace in self.namespace_handlers
        )

    def _sweep_forever(self):
        while True:
            self.sleep(self.connect_deadlines.seconds_to_next())
            for eio_sid in self.connect_deadlines.due():
                try:
                    self._drop_if_never_connected(eio_sid)
                except Exception:  # one broken socket must not stop the sweeper
                    logger.exception("could not drop %s", eio_sid)

    def _drop_if_never_connected(self, eio_sid):
        if eio_sid in self.environ and not self._in_a_namespace(eio_sid):
            logger.info(
                "dropping %s: no namespace connect within %ss", eio_sid, self.connect_timeout
            )
            self.eio.disconnect(eio_sid)
