"""d09.runtime.drain: a stopping worker's goodbye, without sockets. Who is told
to come back when, that no session is closed in the middle of its event (its
ack would be cut off), that no new session is taken, and that the rooms are not
told that everybody left."""

import itertools

import eventlet
import pytest
import socketio

from d09.runtime.drain import NEW_PROCESS_BOOT_SECONDS, drain, first_return, spread_delays
from d09.runtime.server import ChatServer
from tests.unit.test_rooms import setup  # noqa: F401 (a fixture)


def test_delays_are_spread_evenly_over_sessions_per_rate_seconds():
    delays = spread_delays(1000, rate=250, longest=20, shuffle=lambda items: None)
    assert len(delays) == 1000 and delays[0] == 0 and 3.99 <= delays[-1] <= 4
    assert 495 <= sum(delay < 2 for delay in delays) <= 505  # as many in each half
    gaps = {round(b - a, 3) for a, b in itertools.pairwise(delays)}
    assert gaps <= {0.0, 0.01}  # rounded to 10 ms, never more than one step apart


def test_the_spread_never_exceeds_its_longest():
    delays = spread_delays(100_000, rate=250, longest=20)
    assert 19.9 < max(delays) <= 20 and min(delays) == 0


def test_delays_come_in_a_random_order():
    delays = spread_delays(100, rate=10, longest=20)
    assert delays != sorted(delays) and sorted(delays) == spread_delays(
        100, rate=10, longest=20, shuffle=lambda items: None
    )


def test_the_spread_starts_once_a_new_process_can_be_up():
    delays = spread_delays(100, rate=10, longest=20, first=first_return(settle=3))
    assert min(delays) == 3 + NEW_PROCESS_BOOT_SECONDS
    assert max(delays) <= 3 + NEW_PROCESS_BOOT_SECONDS + 10


def test_no_sessions_no_delays_and_no_rate_no_wait():
    assert spread_delays(0, rate=250, longest=20) == []
    assert spread_delays(3, rate=0, longest=20) == [0, 0, 0]


class FakeSocket:
    closed = closing = False

    def __init__(self, log):
        self.log = log

    def close(self, wait=True, abort=False, reason=None):
        self.closing = True
        self.log.append(("closed", wait, abort))


@pytest.fixture
def server():
    server = ChatServer(async_mode="eventlet", connect_timeout=0, async_handlers=False)
    server.register_namespace(socketio.Namespace("/"))
    server._send_packet = lambda *args: None  # no Engine.IO socket behind these sessions
    return server


def session(server, log, eio_sid):
    server.environ[eio_sid] = {}
    server.eio.sockets[eio_sid] = FakeSocket(log)
    return server.manager.connect(eio_sid, "/")


def test_a_session_inside_an_event_is_closed_once_the_event_is_answered(server):
    log = []
    session(server, log, "busy")

    @server.on("message")
    def message(sid, data):
        server.close_when_idle("busy")  # the goodbye arrives while this runs
        log.append("answered")
        return {"ok": True}

    server._handle_eio_message("busy", '21["message",{}]')
    assert log == ["answered", ("closed", False, True)]


def test_an_idle_session_is_closed_at_once_without_waiting_for_its_reader(server):
    log = []
    session(server, log, "idle")
    server.close_when_idle("idle")
    assert log == [("closed", False, True)]


def test_a_draining_server_takes_no_new_session():
    settled = []
    server = ChatServer(async_mode="eventlet", connect_timeout=0)
    server.session_settled = lambda environ: settled.append(environ["name"])
    server.draining = True
    assert server._handle_eio_connect("late", {"name": "late"}) is False
    assert settled == ["late"]


class Departing:
    departing = False


def test_drain_tells_every_session_its_own_delay_then_closes_it(server, monkeypatch):
    log, told = [], []
    sids = {eio_sid: session(server, log, eio_sid) for eio_sid in ("a", "b", "c", "d")}
    monkeypatch.setattr(
        server, "emit", lambda event, data, to, namespace, ignore_queue: told.append((to, data))
    )
    rooms = Departing()
    drain(server, rooms, rate=2, longest=20, settle=0)
    assert server.draining and rooms.departing
    assert {to for to, _ in told} == set(sids.values())
    first = NEW_PROCESS_BOOT_SECONDS  # settle=0: from when a new process can be up
    assert sorted(notice["retry_after"] for _, notice in told) == [
        first + delay for delay in (0, 0.5, 1.0, 1.5)
    ]
    assert log.count(("closed", False, True)) >= 4


def test_a_session_still_busy_after_the_settle_time_is_closed_anyway(server, monkeypatch):
    log, release = [], eventlet.event.Event()
    session(server, log, "stuck")
    monkeypatch.setattr(server, "emit", lambda *args, **kwargs: None)

    @server.on("message")
    def message(sid, data):
        release.wait()  # a handler that waits for a database that does not answer

    reader = eventlet.spawn(server._handle_eio_message, "stuck", '2["message",{}]')
    eventlet.sleep(0)
    drain(server, Departing(), rate=250, longest=20, settle=0.05)
    assert log == [("closed", False, True)]  # not waiting for the handler
    release.send()
    reader.wait()


def test_a_departing_room_is_not_told_that_its_users_left(setup):  # noqa: F811
    server, rooms, member = setup
    rooms.join("a1", member("alice"))
    rooms.join("b1", member("bob"))
    sent_before = len(server.sent)
    rooms.departing = True
    rooms.leave("a1")
    assert len(server.sent) == sent_before
    assert rooms.registry.member("a1") is None
