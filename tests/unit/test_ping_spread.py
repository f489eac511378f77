"""d09.runtime.ping_spread: a connection's first ping after a random share of
the interval, the later ones after the whole interval, as python-engineio does."""

import engineio
from engineio import packet
from engineio.socket import Socket

from d09.runtime.ping_spread import FIRST_PING_SHARE, SpreadPings, spread_pings
from d09.runtime.send_bound import BoundedSocket, bound

INTERVAL = 10


def socket_with_recorded_waits():
    """A SpreadPings whose server runs background tasks at once and records
    how long each would have slept instead of sleeping."""
    server = engineio.Server(async_mode="eventlet", ping_interval=INTERVAL)
    waits = []
    server.sleep = waits.append
    server.start_background_task = lambda target, *args: target(*args)
    socket = spread_pings(Socket(server, "eio-1"))
    server.sockets["eio-1"] = socket
    return socket, waits


def queued(socket):
    packets = []
    while not socket.queue.empty():
        packets.append(socket.queue.get(block=False))
    return packets


def test_the_first_ping_comes_within_the_interval_the_next_after_a_whole_one():
    socket, waits = socket_with_recorded_waits()
    socket.schedule_ping()  # what python-engineio calls once the session is open
    (first,) = waits
    low, high = FIRST_PING_SHARE
    assert low * INTERVAL <= first <= high * INTERVAL
    assert [p.packet_type for p in queued(socket)] == [packet.PING]

    socket.receive(packet.Packet(packet.PONG))  # the client answers: the next ping
    assert waits[1:] == [INTERVAL]
    assert [p.packet_type for p in queued(socket)] == [packet.PING]


def test_connections_opened_together_are_first_pinged_at_different_times():
    firsts = set()
    for _ in range(20):
        socket, waits = socket_with_recorded_waits()
        socket.schedule_ping()
        firsts.add(waits[0])
    assert len(firsts) > 10
    assert max(firsts) - min(firsts) > INTERVAL / 10


def test_a_closed_connection_is_not_pinged():
    socket, waits = socket_with_recorded_waits()
    socket.closed = True
    socket.schedule_ping()
    assert len(waits) == 1
    assert queued(socket) == []


def test_bounded_sockets_spread_their_pings_too():
    server = engineio.Server(async_mode="eventlet")
    server.max_queued_bytes = 1000
    socket = spread_pings(bound(Socket(server, "a")))
    assert type(socket) is BoundedSocket
    assert isinstance(socket, SpreadPings)
