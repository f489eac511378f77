"""chat.realtime.ChatServer runs each handler in a short-lived green thread that
the connection's reader waits for (memory per connection, bench/README.md
finding 14), with the same results as if it ran in the reader."""

import eventlet
import pytest
import socketio

from chat.realtime import ChatServer


@pytest.fixture
def server():
    return ChatServer(async_mode="eventlet", connect_timeout=0)


def in_green_thread(function):
    return eventlet.spawn(function).wait()


def test_a_handler_runs_in_another_green_thread_and_its_value_comes_back(server):
    seen = {}

    @server.event
    def message(sid, data):
        seen["thread"] = eventlet.getcurrent()
        return {"ok": True, "echo": data}

    def reader():
        seen["reader"] = eventlet.getcurrent()
        return server._trigger_event("message", "/", "sid", "hello")

    assert in_green_thread(reader) == {"ok": True, "echo": "hello"}
    assert seen["thread"] is not seen["reader"]
    assert seen["thread"].dead  # it ended with the event: nothing stays per connection


def test_a_refusal_reaches_python_socketio_as_if_raised_in_the_reader(server):
    @server.event
    def connect(sid, environ, auth=None):
        raise socketio.exceptions.ConnectionRefusedError("You are not logged in.")

    def reader():
        with pytest.raises(socketio.exceptions.ConnectionRefusedError, match="not logged in"):
            server._trigger_event("connect", "/", "sid", {}, None)
        return True

    assert in_green_thread(reader)


def test_the_reader_waits_so_one_clients_events_keep_their_order(server):
    handled = []

    @server.event
    def message(sid, data):
        eventlet.sleep(0.01 if data == 1 else 0)  # the first one waits (a database)
        handled.append(data)

    def reader():
        for data in (1, 2, 3):
            server._trigger_event("message", "/", "sid", data)
        return handled

    assert in_green_thread(reader) == [1, 2, 3]
