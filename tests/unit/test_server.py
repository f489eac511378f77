"""d09.runtime.server.ChatServer: the one class that overrides private methods
of python-socketio. Each override must still exist in the library with the same
parameters and still be called by it; otherwise a library upgrade would drop a
guard without a word."""

import inspect

import engineio.socket
import eventlet
import pytest
import socketio

from chat.backends.memory import LocalRoomLocks
from d09.runtime import ping_spread, send_bound
from d09.runtime.server import OVERRIDDEN, ChatServer
from tests.support.overrides import assert_override_matches
from tests.support.server import wait_until


@pytest.fixture
def server():
    return ChatServer(async_mode="eventlet", connect_timeout=0, async_handlers=False)


def connected_sid(server, eio_sid="eio-1"):
    """A client connected to "/" as far as python-socketio knows (no socket)."""
    server.environ[eio_sid] = {}
    return server.manager.connect(eio_sid, "/")


@pytest.mark.parametrize("name", sorted(OVERRIDDEN))
def test_each_override_matches_the_library_method(name):
    assert_override_matches(socketio.Server, ChatServer, name, OVERRIDDEN[name])


# Our subclasses of python-engineio's Socket, each with its table of overrides.
ENGINEIO_SOCKET_OVERRIDES = [
    (ours, name, table[name])
    for ours, table in (
        (send_bound.BoundedSocket, send_bound.OVERRIDDEN),
        (ping_spread.SpreadPings, ping_spread.OVERRIDDEN),
    )
    for name in sorted(table)
]


@pytest.mark.parametrize(
    ("ours", "name", "parameters"),
    ENGINEIO_SOCKET_OVERRIDES,
    ids=[f"{ours.__name__}.{name}" for ours, name, _ in ENGINEIO_SOCKET_OVERRIDES],
)
def test_each_engineio_socket_override_matches_the_library_method(ours, name, parameters):
    assert_override_matches(engineio.socket.Socket, ours, name, parameters)


def test_engineio_still_sends_through_the_socket_and_writes_what_poll_gives():
    """The byte count rests on these: every packet goes through Socket.send,
    and the WebSocket writer asks poll() for a batch once the last is written."""
    send_packet = inspect.getsource(engineio.Server.send_packet)
    assert "socket.send(pkt)" in send_packet
    handler = inspect.getsource(engineio.socket.Socket._websocket_handler)
    assert "packets = self.poll()" in handler
    assert "for pkt in packets:" in handler


def test_engineio_events_still_reach_the_overrides(server):
    for event, method in [
        ("connect", server._handle_eio_connect),
        ("message", server._handle_eio_message),
        ("disconnect", server._handle_eio_disconnect),
    ]:
        assert server.eio.handlers[event] == method, event


def spy(monkeypatch, server, name):
    """Record every call python-socketio makes to ``server.<name>``."""
    calls = []
    original = getattr(server, name)

    def recorder(*args):
        calls.append(args)
        return original(*args)

    monkeypatch.setattr(server, name, recorder)
    return calls


def test_packets_still_reach_the_event_and_connect_overrides(server, monkeypatch):
    events, connects = spy(monkeypatch, server, "_handle_event"), []
    monkeypatch.setattr(server, "_handle_connect", lambda *args: connects.append(args))
    monkeypatch.setattr(server, "_send_packet", lambda *args: None)
    connected_sid(server)
    server._handle_eio_message("eio-1", '0{"room":"general"}')
    server._handle_eio_message("eio-1", '2["message",{"text":"hi"}]')
    assert connects == [("eio-1", None, {"room": "general"})]
    assert events == [("eio-1", None, None, ["message", {"text": "hi"}])]


def test_a_reserved_event_name_is_refused_with_an_ack_error(server, monkeypatch):
    sent = []
    monkeypatch.setattr(server, "_send_packet", lambda eio_sid, pkt: sent.append(pkt.data))
    handled = []
    server.on("disconnect", lambda *args: handled.append(args))
    connected_sid(server)
    server._handle_eio_message("eio-1", '27["disconnect","x"]')
    assert sent == [[{"ok": False, "error": "This event name is not allowed."}]]
    assert handled == []


def test_a_disconnect_found_inside_a_broadcast_is_handled_after_it(server):
    """What froze rooms: python-engineio closes a timed-out client inside a send,
    here inside a broadcast under the room lock, and runs the disconnect there."""
    locks, order = LocalRoomLocks(wait=1), []

    @server.on("disconnect")
    def disconnect(sid, reason):
        with locks.hold("general"):  # nested, this would be LockReentered
            order.append(("disconnect", reason))

    connected_sid(server)

    def broadcast():
        with locks.hold("general"):
            server.eio._trigger_event("disconnect", "eio-1", "ping timeout", run_async=False)
            order.append("broadcast done")

    eventlet.spawn(broadcast).wait()
    wait_until(lambda: len(order) == 2, timeout=2, interval=0.01, message="the disconnect")
    assert order == ["broadcast done", ("disconnect", "ping timeout")]
    assert not server.manager.is_connected(server.manager.sid_from_eio_sid("eio-1", "/"), "/")


def test_each_new_session_is_settled_once_it_connects_or_goes():
    settled = []
    server = ChatServer(async_mode="eventlet", connect_timeout=0)
    # As the app's: the slot is taken out of the environ, so it goes back once.
    server.session_settled = lambda environ: settled.extend(environ.pop("slot", []))
    server.register_namespace(socketio.Namespace("/"))
    server._handle_eio_connect("joins", {"slot": ["joins"]})
    server._handle_eio_connect("leaves", {"slot": ["leaves"]})
    assert settled == []
    server._send_packet = lambda *args: None  # no Engine.IO socket behind these sessions
    server._handle_connect("joins", "/", None)
    assert settled == ["joins"]
    server._handle_eio_disconnect("leaves", server.reason.CLIENT_DISCONNECT)
    assert settled == ["joins", "leaves"]


def test_a_session_refused_by_admit_transport_is_settled_at_once():
    settled = []
    server = ChatServer(async_mode="eventlet", connect_timeout=0, admit_transport=lambda e: False)
    server.session_settled = lambda environ: settled.append(environ["name"])
    assert server._handle_eio_connect("refused", {"name": "refused"}) is False
    assert settled == ["refused"]


def test_a_held_reader_reads_on_only_after_its_hold_and_others_meanwhile(server, monkeypatch):
    order = []

    def handle(eio_sid, namespace, id, data):
        order.append((eio_sid, data[1]))
        if data[1] == "hold":
            server.hold_reader(eio_sid, 0.3)

    monkeypatch.setattr(server, "_handle_event", handle)
    for eio_sid in ("slow", "other"):
        connected_sid(server, eio_sid)
    slow = eventlet.spawn(server._handle_eio_message, "slow", '2["x","hold"]')
    eventlet.sleep(0)  # the slow reader runs until it sleeps in its hold
    server._handle_eio_message("other", '2["x","meanwhile"]')
    assert order == [("slow", "hold"), ("other", "meanwhile")]
    assert not slow.dead  # still held: its next frame is not read yet
    slow.wait()
    assert server._holds == {}
