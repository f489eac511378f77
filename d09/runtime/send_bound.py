"""A bound on what each connection may have waiting to be written, in bytes.

python-engineio gives every connection an unbounded queue of packets to send,
drained by a writer green thread that blocks in ``sendall()`` while the client
does not read. A client that asks for big answers and never reads (or a slow
reader in a busy room) grew one worker from 74 MB to 1.3 GB in 12 s, until
the whole worker, and everyone on it, went down.

``BoundedSocket`` is python-engineio's ``Socket`` counting the bytes handed to
it and not written yet (the queue, plus the batch the writer is sending: the
writer asks ``poll()`` for the next batch only once the last one is written).
A connection that already has ``max_queued_bytes`` waiting when another packet
comes is closed at once: what it had queued is dropped, its TCP connection is
aborted (the writer blocked in ``sendall()`` and the reader both wake up and
end), and its disconnect runs the way every disconnect found by engineio runs
(``ChatServer`` defers it: the send may be inside a room broadcast, under the
room's lock). The page reconnects and fills its gap with ``since``.

A single packet bigger than the bound (a page of scroll-back in a worst-case
language) still goes to a connection that has less than the bound waiting:
the bound is on the backlog, so a connection holds at most the bound plus one
packet.

``tests/unit/test_server.py`` checks that the overridden methods (``OVERRIDDEN``)
still exist in the library with these parameters and are still called by it.
"""

import contextlib
import logging
import socket
import struct

from engineio import socket as engineio_socket

from d09.runtime.ping_spread import SpreadPings

logger = logging.getLogger(__name__)

# Methods of engineio.socket.Socket overridden below, with their parameters.
OVERRIDDEN = {
    "send": ("self", "pkt"),
    "poll": ("self",),
    "_websocket_handler": ("self", "ws"),
}

# SO_LINGER on, 0 s: close() resets the connection instead of keeping the
# unsent bytes in the kernel until a client that does not read takes them.
ABORT_ON_CLOSE = struct.pack("ii", 1, 0)


def packet_bytes(pkt):
    """What an Engine.IO packet weighs on the wire (its type digit and its
    payload, UTF-8), without encoding it again when that can be avoided."""
    data = pkt.data
    if isinstance(data, str):
        # str.isascii() is O(1) in CPython: ASCII (JSON's default) needs no copy.
        return 1 + (len(data) if data.isascii() else len(data.encode("utf-8")))
    if isinstance(data, bytes | bytearray):
        return 1 + len(data)
    if data is None:
        return 1
    return len(pkt.encode())  # dict or list: the open packet only


def bound_sockets(engineio_server, max_queued_bytes):
    """Make ``engineio_server``'s new sockets bounded to ``max_queued_bytes``
    (0: no bound, python-engineio's own behaviour)."""
    engineio_server.max_queued_bytes = max_queued_bytes


def bound(socket_):
    """Turn an engineio Socket, just made, into a BoundedSocket.

    python-engineio builds its ``Socket`` inline in ``Server._handle_connect``
    with no hook for the class; the socket is handed to our connect handler
    before anything is sent through it but the open packet. The subclass adds
    no instance state until it is used (class defaults), so swapping the class
    costs nothing per connection."""
    if getattr(socket_.server, "max_queued_bytes", 0) and type(socket_) is engineio_socket.Socket:
        socket_.__class__ = BoundedSocket
    return socket_


class BoundedSocket(SpreadPings):  # its pings spread too (d09.runtime.ping_spread)
    queued_bytes = 0  # handed to send() and not written yet (queue + writer's batch)
    _batch_bytes = 0  # of those, the batch the writer took with the last poll()
    _websocket = None  # the WebSocket being served, to abort its connection

    def send(self, pkt):
        if self.queued_bytes >= self.server.max_queued_bytes:
            self.overflow()
            return
        self.queued_bytes += packet_bytes(pkt)
        super().send(pkt)

    def poll(self):
        # The writer (or a long-polling GET) asks for more only once what it
        # took last time is written, or it gave up: those bytes are gone.
        self.queued_bytes = max(0, self.queued_bytes - self._batch_bytes)
        self._batch_bytes = 0
        packets = super().poll()
        self._batch_bytes = sum(map(packet_bytes, packets))
        return packets

    def _websocket_handler(self, ws):
        self._websocket = ws
        try:
            return super()._websocket_handler(ws)
        finally:
            self._websocket = None

    def overflow(self):
        """Close a connection whose backlog reached the bound, and free it now."""
        if self.closing or self.closed:
            return
        logger.warning(
            "closing %s: %d bytes waiting to be written (bound %d): it does not read",
            self.sid,
            self.queued_bytes,
            self.server.max_queued_bytes,
        )
        self._drop_queued()
        self._abort_connection()
        # abort=True: no CLOSE packet behind a backlog that will never be read.
        self.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_ERROR)

    def _drop_queued(self):
        empty = self.server.get_queue_empty_exception()
        with contextlib.suppress(empty):
            while True:
                self.queue.get(block=False)
                self.queue.task_done()
        self.queued_bytes = self._batch_bytes

    def _abort_connection(self):
        """Wake the writer blocked in sendall() and the reader with an error
        (shutdown, not close: the file descriptor stays theirs to close)."""
        raw = getattr(self._websocket, "socket", None)
        if raw is None:  # long-polling: nothing blocks, the next GET ends it
            return
        with contextlib.suppress(OSError):
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, ABORT_ON_CLOSE)
            raw.shutdown(socket.SHUT_RDWR)
