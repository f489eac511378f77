"""chat.realtime.ChatServer runs each handler on a fresh green-thread stack
(d09/fresh_stack.py), with the same results as if it ran in the reader."""

import eventlet
import pytest
import socketio

from chat.realtime import ChatServer


@pytest.fixture
def server():
    return ChatServer(async_mode="eventlet", connect_timeout=0)


def in_green_thread(function):
    return eventlet.spawn(function).wait()


def test_a_handler_runs_on_its_own_stack_and_its_value_comes_back(server):
    seen = {}

    @server.event
    def message(sid, data):
        seen["handler"] = eventlet.getcurrent()
        return {"ok": True, "echo": data}

    def reader():
        seen["reader"] = eventlet.getcurrent()
        return server._trigger_event("message", "/", "sid", "hello")

    assert in_green_thread(reader) == {"ok": True, "echo": "hello"}
    assert seen["handler"] is not seen["reader"]
    assert seen["handler"].dead  # it ended with the event: nothing stays per connection


def test_a_refusal_reaches_python_socketio_as_if_raised_in_the_reader(server):
    @server.event
    def connect(sid, environ, auth=None):
        eventlet.sleep(0)  # the database
        raise socketio.exceptions.ConnectionRefusedError("You are not logged in.")

    def reader():
        with pytest.raises(socketio.exceptions.ConnectionRefusedError, match="not logged in"):
            server._trigger_event("connect", "/", "sid", {}, None)
        return True

    assert in_green_thread(reader)


def test_other_async_modes_run_handlers_where_they_are():
    threaded = ChatServer(async_mode="threading", connect_timeout=0)
    seen = {}

    @threaded.event
    def message(sid, data):
        seen["handler"] = eventlet.getcurrent()

    threaded._trigger_event("message", "/", "sid", "x")
    assert seen["handler"] is eventlet.getcurrent()
