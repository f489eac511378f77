"""d09.runtime.send_bound: what a connection may have waiting to be written."""

import engineio
import eventlet
from engineio import packet
from engineio.socket import Socket

from chat.backends.memory import LocalRoomLocks
from d09.runtime.send_bound import BoundedSocket, bound, packet_bytes
from d09.runtime.server import ChatServer
from tests.support.server import wait_until


def message(size):
    return packet.Packet(packet.MESSAGE, data="x" * (size - 1))  # +1: the type digit


def bounded_socket(limit, sid="eio-1", server=None):
    server = server or engineio.Server(async_mode="eventlet")
    server.max_queued_bytes = limit
    socket = bound(Socket(server, sid))
    server.sockets[sid] = socket
    return socket


def test_a_packet_weighs_its_encoded_bytes():
    assert packet_bytes(packet.Packet(packet.MESSAGE, data="2[]")) == 4
    assert packet_bytes(packet.Packet(packet.MESSAGE, data="é😀")) == 1 + 2 + 4  # UTF-8
    assert packet_bytes(packet.Packet(packet.MESSAGE, data=b"\x00" * 10)) == 11
    assert packet_bytes(packet.Packet(packet.PING)) == 1
    opening = packet.Packet(packet.OPEN, {"sid": "abc"})
    assert packet_bytes(opening) == len(opening.encode())


def test_without_a_bound_sockets_stay_the_library_s():
    server = engineio.Server(async_mode="eventlet")
    assert type(bound(Socket(server, "a"))) is Socket
    server.max_queued_bytes = 0
    assert type(bound(Socket(server, "a"))) is Socket


def test_bytes_count_until_the_writer_comes_back_for_more():
    socket = bounded_socket(limit=1000)
    socket.send(message(100))
    socket.send(message(200))
    assert socket.queued_bytes == 300
    assert len(socket.poll()) == 2  # the writer took both: they are being written
    assert socket.queued_bytes == 300
    socket.send(message(50))
    assert len(socket.poll()) == 1  # it came back: the first batch is written
    assert socket.queued_bytes == 50


def test_a_connection_over_the_bound_is_closed_and_its_backlog_dropped():
    socket = bounded_socket(limit=250)
    gone = []
    socket.server.on("disconnect", lambda sid, reason: gone.append((sid, reason)))
    socket.send(message(100))
    socket.send(message(200))  # 100 waiting: under the bound, it goes in
    assert not socket.closed
    socket.send(message(10))  # 300 waiting: closed instead
    assert socket.closed
    assert gone == [("eio-1", socket.server.reason.TRANSPORT_ERROR)]
    assert socket.poll() == []  # only the end-of-queue mark is left
    assert "eio-1" not in socket.server.sockets or socket.server.sockets["eio-1"].closed


def test_one_packet_bigger_than_the_bound_still_goes_to_a_connection_that_reads():
    socket = bounded_socket(limit=1000)
    socket.send(message(10))
    socket.send(message(5000))  # 10 waiting: it goes in
    assert not socket.closed
    assert socket.queued_bytes == 5010


def test_a_new_session_of_the_chat_server_is_bounded():
    server = ChatServer(async_mode="eventlet", connect_timeout=0, max_queued_bytes=4096)
    server.eio.sockets["eio-1"] = Socket(server.eio, "eio-1")
    server._handle_eio_connect("eio-1", {})
    assert type(server.eio.sockets["eio-1"]) is BoundedSocket
    assert server.eio.max_queued_bytes == 4096


def test_an_overflow_inside_a_room_broadcast_is_disconnected_after_it():
    """The send that finds a connection over the bound may be a broadcast's,
    under the room's lock: its disconnect must not run there (it would wait
    for that lock for ever)."""
    server = ChatServer(async_mode="eventlet", connect_timeout=0, max_queued_bytes=100)
    locks, order = LocalRoomLocks(wait=1), []

    @server.on("disconnect")
    def disconnect(sid, reason):
        with locks.hold("general"):
            order.append(("disconnect", reason))

    bounded_socket(limit=100, server=server.eio)
    server.environ["eio-1"] = {}
    server.manager.connect("eio-1", "/")
    server.manager.enter_room(server.manager.sid_from_eio_sid("eio-1", "/"), "/", "general")

    def broadcast():
        with locks.hold("general"):
            for _ in range(3):
                server.emit("message", "x" * 80, room="general")
            order.append("broadcast done")

    eventlet.spawn(broadcast).wait()
    wait_until(lambda: len(order) == 2, timeout=2, interval=0.01, message="the disconnect")
    assert order == ["broadcast done", ("disconnect", "transport error")]
