"""chat.events.ChatNamespace: every event goes through one wrapper (a fresh
green-thread stack, a borrowed database connection, known failures turned into
ack errors or refusals), reached through python-socketio's own dispatch."""

import gc
import weakref
from types import SimpleNamespace

import eventlet
import pytest
import socketio
from django.db import DatabaseError
from redis.exceptions import ConnectionError as RedisConnectionError

from chat import events
from chat.backends.base import RoomBusy
from chat.limits import RateLimiter
from chat.payloads import Refused
from d09.runtime.server import ChatServer


@pytest.fixture
def server(monkeypatch):
    """A ChatServer with the chat's namespace; acks are recorded in ``server.acks``."""
    server = ChatServer(async_mode="eventlet", connect_timeout=0, async_handlers=False)
    server.register_namespace(events.ChatNamespace(chat=object()))
    server.acks = []
    monkeypatch.setattr(server, "_send_packet", lambda eio_sid, pkt: server.acks.append(pkt.data))
    server.environ["eio-1"] = {}
    server.manager.connect("eio-1", "/")
    return server


@pytest.fixture
def probe(monkeypatch):
    """Register a handler for the client event "probe" that runs ``probe.body``."""

    class Probe:
        body = staticmethod(lambda chat, sid, *payload: {"ok": True})
        calls = []

    def handler(chat, sid, *payload):
        Probe.calls.append((eventlet.getcurrent(), payload))
        return Probe.body(chat, sid, *payload)

    monkeypatch.setitem(
        events.HANDLERS["/"], "probe", events.Handler(handler, "The database failed.")
    )
    return Probe


def emit_from_reader(server, frame):
    """Feed ``frame`` to the server from a green thread, as a socket's reader does."""
    reader = eventlet.spawn(server._handle_eio_message, "eio-1", frame)
    reader.wait()
    return reader


def test_a_handler_runs_on_its_own_stack_and_its_ack_comes_back(server, probe):
    reader = emit_from_reader(server, '21["probe",{"x":1}]')
    [(handler_thread, payload)] = probe.calls
    assert payload == ({"x": 1},)
    assert handler_thread is not reader
    assert handler_thread.dead  # it ended with the event: nothing stays per connection
    assert server.acks == [[{"ok": True}]]


@pytest.mark.parametrize(
    ("failure", "answer"),
    [
        (Refused("Not like that."), {"error": "Not like that."}),
        (Refused("Slow down.", retry_after=3), {"error": "Slow down.", "retry_after": 3}),
        (DatabaseError("locked"), {"error": "The database failed.", "retry_after": 2}),
        (RedisConnectionError("down"), {"error": events.BUSY, "retry_after": 2}),
        (RoomBusy("general"), {"error": events.BUSY, "retry_after": 2}),
    ],
)
def test_known_failures_become_ack_errors(server, probe, failure, answer):
    def fail(*args):
        raise failure

    probe.body = staticmethod(fail)
    emit_from_reader(server, '22["probe",{}]')
    assert server.acks == [[{"ok": False, **answer}]]


def test_an_unknown_event_gets_an_ack_error_with_its_name_shortened(server):
    emit_from_reader(server, '23["' + "x" * 500 + '",{}]')
    [[answer]] = server.acks
    assert answer["ok"] is False
    assert answer["error"].startswith("Unknown event 'xxx")
    assert len(answer["error"]) < 80


def test_a_refused_connect_reaches_python_socketio_as_a_refusal():
    namespace = events.ChatNamespace(chat=object())
    namespace._set_server(ChatServer(async_mode="eventlet", connect_timeout=0))

    def refuse(chat, sid, environ, auth=None):
        raise Refused("You are not logged in.")

    handlers = {"/": {"connect": events.Handler(refuse, events.UNAVAILABLE)}}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(events, "HANDLERS", handlers)
        with pytest.raises(socketio.exceptions.ConnectionRefusedError, match="not logged in"):
            eventlet.spawn(namespace.trigger_event, "connect", "sid", {}, None).wait()


def test_other_async_modes_run_handlers_where_they_are(monkeypatch):
    namespace = events.ChatNamespace(chat=object())
    namespace._set_server(ChatServer(async_mode="threading", connect_timeout=0))
    seen = []
    handler = events.Handler(lambda chat, sid, *p: seen.append(eventlet.getcurrent()), "x")
    monkeypatch.setitem(events.HANDLERS["/"], "probe", handler)
    namespace.trigger_event("probe", "sid", {})
    assert seen == [eventlet.getcurrent()]


@pytest.mark.parametrize("failure", [DatabaseError("gone"), RedisConnectionError("down")])
def test_a_connect_that_meets_a_failing_store_is_refused_for_now_not_for_good(failure):
    """The database or Redis failing during a join (the room's change number is its
    first query): the client is told to come back (``retry_after``), which the page's
    shim does, instead of a final refusal."""
    namespace = events.ChatNamespace(chat=object())
    namespace._set_server(ChatServer(async_mode="eventlet", connect_timeout=0))

    def fail(chat, sid, environ, auth=None):
        raise failure

    handlers = {"/": {"connect": events.Handler(fail, events.UNAVAILABLE)}}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(events, "HANDLERS", handlers)
        with pytest.raises(socketio.exceptions.ConnectionRefusedError) as refused:
            eventlet.spawn(namespace.trigger_event, "connect", "sid", {}, None).wait()
    message, data = refused.value.error_args["message"], refused.value.error_args["data"]
    assert message == events.UNAVAILABLE and data == {"retry_after": events.RETRY_SOON}


def chat_with_budgets(clock, user, worker, member=lambda sid: 7):
    """A Chat whose ``users`` answers come from no room, with these budgets
    (burst, per second) and ``member(sid)`` the user id of a connection."""
    chat = events.Chat(
        history_limit=RateLimiter(burst=user[0], rate=user[1], clock=clock),
        history_worker_limit=RateLimiter(burst=worker[0], rate=worker[1], clock=clock),
    )
    chat.member = lambda sid: SimpleNamespace(user_id=member(sid), room_slug="r", room_id=1)
    chat.rooms = SimpleNamespace(presence=SimpleNamespace(snapshot=lambda slug: (["bob"], 3)))
    return chat


def test_older_and_users_share_one_budget_per_user_over_their_connections(clock):
    """One user may hold 30 connections: the budget for costly answers is the user's."""
    chat = chat_with_budgets(clock, user=(2, 1), worker=(100, 100))
    assert events.users(chat, "sid-1", {})["ok"]
    assert events.users(chat, "sid-2", {})["ok"]
    with pytest.raises(Refused) as refusal:
        events.older(chat, "sid-3", {"before": 10, "limit": 100})
    assert refusal.value.retry_after == 1
    assert str(refusal.value) == (
        "Too many requests for older messages or the user list: wait 1 second."
    )
    clock.advance(1)
    assert events.users(chat, "sid-3", {})["ok"]


def test_many_users_together_stay_within_the_worker_s_budget(clock):
    chat = chat_with_budgets(clock, user=(5, 1), worker=(3, 10), member=lambda sid: sid)
    for user in range(3):
        assert events.users(chat, user, {})["ok"]
    with pytest.raises(Refused) as refusal:
        events.users(chat, 3, {})  # a user with budget left, on a busy worker
    assert str(refusal.value) == "The server is busy: ask again in 1 second."
    assert refusal.value.retry_after == 1
    clock.advance(0.1)
    assert events.users(chat, 3, {})["ok"]


def test_the_worker_s_budget_pays_for_a_page_by_its_weight(clock, monkeypatch, settings):
    """100 lines of 2,000 characters (210 KB of JSON) cost the loop what ten
    pages of ordinary lines cost: the worker's budget is charged so."""
    settings.HISTORY_WORKER_TOKEN_BYTES = 20_000
    pages = {"heavy": [{"id": i, "text": "x" * 2000} for i in range(100)]}
    pages["light"] = [{"id": i, "text": "hello"} for i in range(50)]
    monkeypatch.setattr(events.reading, "older", lambda room, slug, before, limit: (pages[slug], 1))
    chat = chat_with_budgets(clock, user=(100, 100), worker=(20, 50), member=lambda sid: sid)
    chat.member = lambda sid: SimpleNamespace(user_id=sid, room_slug="light", room_id=1)
    for user in range(20):  # ordinary pages: a token each
        assert events.older(chat, user, {"before": 10, "limit": 50})["ok"]
    clock.advance(20 / 50)  # the whole burst back
    chat.member = lambda sid: SimpleNamespace(user_id=sid, room_slug="heavy", room_id=1)
    assert events.older(chat, 1, {"before": 10, "limit": 100})["ok"]  # 11 of 20 tokens
    assert events.older(chat, 2, {"before": 10, "limit": 100})["ok"]  # 11 of the 9 left
    with pytest.raises(Refused, match="The server is busy"):
        events.older(chat, 3, {"before": 10, "limit": 100})


def test_going_down_pays_by_weight_too(clock, monkeypatch, settings):
    settings.HISTORY_WORKER_TOKEN_BYTES = 20_000
    heavy = [{"id": i, "text": "x" * 2000} for i in range(100)]
    monkeypatch.setattr(events.reading, "newer", lambda room, slug, after, limit: (heavy, 1))
    chat = chat_with_budgets(clock, user=(100, 100), worker=(20, 50), member=lambda sid: sid)
    assert events.newer(chat, 1, {"after": 10, "limit": 100})["ok"]
    assert events.newer(chat, 2, {"after": 10, "limit": 100})["ok"]
    with pytest.raises(Refused, match="The server is busy"):
        events.newer(chat, 3, {"after": 10, "limit": 100})


def test_a_connection_refused_for_its_budget_is_not_read_until_its_wait_is_over(
    server, monkeypatch, clock
):
    """Else a client asking again 45 times a second costs a refusal each time."""
    held = []
    monkeypatch.setattr(server, "hold_reader", lambda eio_sid, s: held.append((eio_sid, s)))
    chat = server.namespace_handlers["/"].chat = chat_with_budgets(clock, (1, 1), (10, 10))
    chat.member = lambda sid: SimpleNamespace(user_id=7, room_slug="r", room_id=1)
    emit_from_reader(server, '21["users",{}]')
    assert server.acks[-1][0]["ok"] and held == []
    emit_from_reader(server, '22["users",{}]')
    assert server.acks[-1][0]["retry_after"] == 1
    assert held == [("eio-1", 1)]
    emit_from_reader(server, '23["no such event",{}]')  # other refusals hold nothing
    assert held == [("eio-1", 1)]


def test_refused_requests_leave_nothing_for_the_garbage_collector(server, monkeypatch, clock):
    """Each refusal freed as it goes: 100 non-readers asking 45 times a second
    left 40,000 objects in reference cycles every 12 s, and their collections
    paused every room for 40-100 ms (bench/README.md, "Clients that do not read")."""
    refusals = weakref.WeakSet()

    class TrackedRefused(Refused):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            refusals.add(self)

    monkeypatch.setattr(events, "Refused", TrackedRefused)
    monkeypatch.setattr(server, "hold_reader", lambda eio_sid, s: None)
    chat = server.namespace_handlers["/"].chat = chat_with_budgets(clock, (1, 1), (10, 10))
    chat.member = lambda sid: SimpleNamespace(user_id=7, room_slug="r", room_id=1)
    gc.disable()
    try:
        for ack_id in range(20, 40):
            emit_from_reader(server, f'2{ack_id}["users",{{}}]')
        assert all("retry_after" in ack[0] for ack in server.acks[1:])
        assert len(refusals) == 0
    finally:
        gc.enable()
