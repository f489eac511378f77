"""d09.websocket_middleware: permessage-deflate is off unless WS_COMPRESSION=1,
eventlet gets gunicorn's socket without a class defined per request, and the
app is called without an extra C-level frame."""

import types

import engineio
import eventlet
import pytest
import socketio
from eventlet import hubs

from d09.runtime.websocket_middleware import (
    EXTENSIONS_KEY,
    SocketInput,
    direct_call,
    opens_a_session,
    websocket_middleware,
)

OFFER = "permessage-deflate; client_max_window_bits"


def handshake_environ():
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/socket.io/",
        "QUERY_STRING": "EIO=4&transport=websocket",
        "HTTP_UPGRADE": "websocket",
        "HTTP_CONNECTION": "Upgrade",
        EXTENSIONS_KEY: OFFER,
    }


def seen_by_app(**options):
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        return [b"ok"]

    middleware = websocket_middleware(app, **options)
    assert middleware(handshake_environ(), lambda *a: None) == [b"ok"]
    return seen


def test_the_offer_is_removed_by_default():
    seen = seen_by_app()
    assert EXTENSIONS_KEY not in seen
    assert seen["HTTP_UPGRADE"] == "websocket"  # the rest of the handshake is untouched


def test_ws_compression_keeps_the_offer(settings):
    settings.WS_COMPRESSION = True
    seen = seen_by_app()
    assert seen[EXTENSIONS_KEY] == OFFER


def test_explicit_argument_wins_over_the_setting(settings):
    settings.WS_COMPRESSION = True
    assert EXTENSIONS_KEY not in seen_by_app(allow_compression=False)


def test_requests_without_an_offer_pass_through():
    middleware = websocket_middleware(lambda environ, start: [environ["PATH_INFO"]])
    assert middleware({"PATH_INFO": "/account"}, None) == ["/account"]


class EngineIORecorder:
    """Stands in for the Engine.IO server behind engineio's real WSGIApp."""

    def __init__(self):
        self.environs = []

    def handle_request(self, environ, start_response):
        self.environs.append(environ)
        return [b"ok"]


def through_engineio(async_mode):
    recorder = EngineIORecorder()
    app = websocket_middleware(
        engineio.WSGIApp(recorder, engineio_path="socket.io"), async_mode=async_mode
    )
    sockets = [object(), object()]
    for socket in sockets:
        app({**handshake_environ(), "gunicorn.socket": socket}, lambda *a: None)
    return recorder.environs, sockets


def test_eventlet_gets_the_gunicorn_socket_without_a_class_per_request():
    environs, sockets = through_engineio("eventlet")
    assert [environ["eventlet.input"].get_socket().socket for environ in environs] == sockets
    # engineio would have defined a new class for each request.
    assert {type(environ["eventlet.input"]) for environ in environs} == {SocketInput}


def test_other_async_modes_keep_the_gunicorn_socket():
    environs, sockets = through_engineio("gevent")
    assert [environ["gunicorn.socket"] for environ in environs] == sockets


def test_an_app_object_is_called_through_its_method():
    # Calling the object would add a C-level frame to every WebSocket reader.
    app = socketio.WSGIApp(socketio.Server())
    call = direct_call(app)
    assert isinstance(call, types.MethodType) and call.__self__ is app


def test_functions_and_builtins_are_called_as_they_are():
    def app(environ, start_response):
        return []

    assert direct_call(app) is app
    assert direct_call(print) is print


def _reader_of(socket):
    """A reader as python-engineio's: an error on its socket ends it."""

    def read():
        try:
            return socket.recv(100)
        except Exception as error:  # engineio's reader: any error, the connection is over
            return type(error)

    return eventlet.spawn(read)


def test_a_websocket_closed_from_another_green_thread_wakes_its_reader():
    # python-engineio closes a WebSocket from its writer green thread while the
    # reader waits in recv(): a bare close left the reader's listener in the
    # hub, on a descriptor the next socket (a PostgreSQL one) then got.
    from eventlet.green import socket as green_socket

    ours, theirs = green_socket.socketpair()
    fileno = ours.fileno()
    seen = SocketInput(ours).get_socket()
    reader = _reader_of(seen)
    eventlet.sleep(0)  # the reader now waits in recv()
    assert hubs.get_hub().listeners[hubs.get_hub().READ].get(fileno)
    eventlet.spawn(seen.close).wait()  # the writer's close
    # No listener is left on the descriptor the kernel may give to the next socket.
    assert not hubs.get_hub().listeners[hubs.get_hub().READ].get(fileno)
    with eventlet.Timeout(5):
        assert reader.wait() is EOFError  # woken: its socket is gone
    # Closed now, not when its reader ends: a client that does not read gets its
    # reset (SO_LINGER 0) at once instead of a half-open connection.
    assert ours.fileno() == -1
    assert theirs.recv(100) == b""
    theirs.close()


def test_a_descriptor_reused_after_such_a_close_serves_its_new_socket():
    # The failure this prevents: psycopg2's wait callback on the recycled
    # descriptor met the dead reader's listener ("Second simultaneous read").
    from eventlet.green import socket as green_socket

    ours, theirs = green_socket.socketpair()
    seen = SocketInput(ours).get_socket()
    reader = _reader_of(seen)
    eventlet.sleep(0)
    eventlet.spawn(seen.close).wait()
    theirs.close()
    first, second = green_socket.socketpair()  # the kernel reuses the lowest descriptors
    try:
        second.sendall(b"ok")
        with eventlet.Timeout(5):
            assert reader.wait() is EOFError
            assert first.recv(2) == b"ok"
    finally:
        first.close()
        second.close()


def test_the_websocket_code_gets_everything_else_of_gunicorns_socket():
    class Socket:
        def recv(self, size):
            return b"x" * size

    seen = SocketInput(Socket()).get_socket()
    assert seen.recv(3) == b"xxx"


@pytest.mark.parametrize(
    ("method", "query", "opens"),
    [
        ("GET", "EIO=4&transport=websocket", True),
        ("GET", "EIO=4&transport=polling&t=abc", True),
        ("GET", "EIO=4&transport=websocket&x=sid=", True),  # not a sid: a new session
        ("GET", "EIO=4&transport=websocket&sid=abc", False),  # goes to its session
        ("GET", "EIO=4&transport=websocket&sid=", True),  # empty: engineio opens one
        ("GET", "EIO=4&transport=websocket&sid", True),
        ("GET", "EIO=3&transport=websocket", False),  # engineio refuses it: no slot
        ("GET", "EIO=4&transport=carrier-pigeon", False),
        ("GET", "transport=websocket", False),
        ("POST", "EIO=4&transport=polling", False),
    ],
)
def test_only_a_valid_new_engineio_session_waits_for_admission(method, query, opens):
    environ = {"REQUEST_METHOD": method, "PATH_INFO": "/socket.io/", "QUERY_STRING": query}
    assert opens_a_session(environ) is opens
