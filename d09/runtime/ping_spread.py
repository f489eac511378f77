"""Pings spread in time: connections that arrived together are not checked together.

python-engineio pings a connection ``ping_interval`` seconds after it opened,
then ``ping_interval`` seconds after each pong, and cuts it when no pong came
``ping_timeout`` seconds after a ping. So connections that arrived together (a
crowd after a restart, a wave of arrivals) stay in step for their whole life,
and those among them that stop answering are all cut at the same instant. In
the bench (bench/README.md, "Clients that do not read"), 100 clients that
never read joined a 1,000-member room together; every 20 s the ping timeout cut
them within one second and they came back a second later: each wave held the
event loop for 400-500 ms, and those waves were the members' whole p99
(273-942 ms). With the first ping spread, the p99 was 86 ms.

``SpreadPings`` sends a connection's first ping after a random share of the
interval, between half of it and all of it; the later pings follow the pongs
as before, so each connection keeps its own offset. No ping comes later than
python-engineio's would: an Engine.IO client that counts on one within
``ping_interval + ping_timeout`` gets it sooner, never later.

``tests/unit/test_server.py`` checks that the overridden method (``OVERRIDDEN``)
still exists in the library with these parameters.
"""

import random
import time

from engineio import packet
from engineio import socket as engineio_socket

# Methods of engineio.socket.Socket overridden below, with their parameters.
OVERRIDDEN = {"_send_ping": ("self",)}

# The first ping comes after this share of ping_interval, drawn at random.
FIRST_PING_SHARE = (0.5, 1.0)


class SpreadPings(engineio_socket.Socket):
    _pinged = False  # a class default: no state per connection until the first ping

    def _send_ping(self):
        # python-engineio's own, but for the first wait.
        self.server.sleep(self._next_ping_wait())
        if not self.closing and not self.closed:
            self.last_ping = time.time()
            self.send(packet.Packet(packet.PING))

    def _next_ping_wait(self):
        if self._pinged:
            return self.server.ping_interval
        self._pinged = True
        return self.server.ping_interval * random.uniform(*FIRST_PING_SHARE)


def spread_pings(socket_):
    """Turn an engineio Socket, just made, into a SpreadPings (see
    ``send_bound.bound`` for why swapping the class of a new socket is safe).
    A socket already of one of our classes is left as it is."""
    if type(socket_) is engineio_socket.Socket:
        socket_.__class__ = SpreadPings
    return socket_
