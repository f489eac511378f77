"""Issue 11, items 2, 4, 5 and 7 against the real server: limits that hit the
right people, a flooder cut off, no JSONP, and the smaller cases."""

import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import socketio
import websocket

from chat.messages import GAP_FILL_LIMIT
from tests.support.raw import RawSocket
from tests.support.server import DEMO_PASSWORD, login, wait_until
from tests.support.sio import ChatClient, connected, refusal_of

pytestmark = pytest.mark.server

# What a deployment gets when it sets nothing (the test servers relax them).
DEFAULT_LIMITS = {
    "MESSAGE_RATE_BURST": "10",
    "CONNECT_RATE_BURST": "30",
    "ADDRESS_RATE_BURST": "30",
    "FRAME_RATE_BURST": "200",
}


def join_like_a_page(url, cookie, room, deadline):
    """Join ``room`` as the page does: a refused transport or a refusal that
    says ``retry_after`` is retried with backoff until ``deadline``."""
    delay = 0.5
    while True:
        try:
            raw = RawSocket(url, cookie=cookie)
        except (websocket.WebSocketException, OSError):
            frames = None
        else:
            frames = raw.connect_namespace({"room": room})
            if frames[-1].startswith("40"):
                return raw
            raw.close()
            assert "retry_after" in frames[-1], frames[-1]
        assert time.monotonic() < deadline, f"still refused: {frames}"
        time.sleep(delay)  # the page's backoff, not a synchronisation
        delay = min(delay * 2, 5)


def test_150_users_behind_one_address_all_join_one_room_at_once(servers):
    live = servers.start(**DEFAULT_LIMITS)
    room = live.create_room("Office", "office")
    cookies = live.create_sessions([f"office{i}" for i in range(150)])
    watcher = connected(live.url, login(live.url, "alice", DEMO_PASSWORD), room)
    deadline = time.monotonic() + 30
    with ThreadPoolExecutor(max_workers=150) as pool:
        joined = list(
            pool.map(
                lambda cookie: join_like_a_page(live.url, cookie, room, deadline), cookies.values()
            )
        )
    try:
        expected = sorted(["alice", *cookies])
        wait_until(
            lambda: watcher.users() == expected,
            timeout=max(deadline - time.monotonic(), 1),
            message="all 150 in the list",
        )
    finally:
        for raw in joined:
            raw.close()
        watcher.close()


def test_one_user_reconnecting_in_a_loop_is_limited_alone_and_told_when_to_retry(servers):
    live = servers.start(CONNECT_RATE_BURST="3", CONNECT_RATE_PER_MINUTE="6")
    bob, carol = (login(live.url, name, DEMO_PASSWORD) for name in ("bob", "carol"))
    for _ in range(3):
        connected(live.url, bob, "general").close()
    raw = RawSocket(live.url, cookie=bob.cookie)
    refusal = json.loads(raw.connect_namespace({"room": "general"})[-1][2:])
    raw.close()
    assert refusal["message"].startswith("Too many connection attempts: try again in")
    assert refusal["data"]["retry_after"] >= 1
    # carol, behind the same address, is not held up by bob's loop.
    connected(live.url, carol, "general").close()


def test_sessions_that_never_log_in_are_limited_per_address(servers):
    live = servers.start(ADDRESS_RATE_BURST="3", ADDRESS_RATE_PER_MINUTE="6")
    for _ in range(3):
        assert "not logged in" in refusal_of(live.url, room="general")
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        RawSocket(live.url)
    assert refused.value.status_code == 401


def never_logging_in_from(url, forwarded_for):
    raw = RawSocket(url, headers={"X-Forwarded-For": forwarded_for})
    assert "not logged in" in raw.connect_namespace({"room": "general"})[-1]
    raw.close()


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_one_limited(servers):
    live = servers.start(
        ADDRESS_RATE_BURST="2", ADDRESS_RATE_PER_MINUTE="1", FORWARDED_ALLOW_IPS="127.0.0.1"
    )
    for _ in range(2):
        never_logging_in_from(live.url, "198.51.100.7")
    with pytest.raises(websocket.WebSocketBadStatusException):
        RawSocket(live.url, headers={"X-Forwarded-For": "198.51.100.7"})
    never_logging_in_from(live.url, "198.51.100.8")  # another client of the proxy


def test_without_a_trusted_proxy_a_forged_forwarded_address_changes_nothing(servers):
    live = servers.start(ADDRESS_RATE_BURST="2", ADDRESS_RATE_PER_MINUTE="1")
    never_logging_in_from(live.url, "198.51.100.7")
    never_logging_in_from(live.url, "198.51.100.8")
    with pytest.raises(websocket.WebSocketBadStatusException):
        RawSocket(live.url, headers={"X-Forwarded-For": "198.51.100.9"})


def test_a_logged_in_session_costs_its_address_nothing(servers):
    live = servers.start(ADDRESS_RATE_BURST="3", ADDRESS_RATE_PER_MINUTE="6")
    alice = login(live.url, "alice", DEMO_PASSWORD)
    for _ in range(10):
        connected(live.url, alice, "general").close()
    connected(live.url, alice, "general").close()


def test_a_client_that_floods_frames_is_cut_and_nobody_else_notices(servers):
    live = servers.start(**DEFAULT_LIMITS)
    alice, bob = (login(live.url, name, DEMO_PASSWORD) for name in ("alice", "bob"))
    bystander = connected(live.url, alice, "general")
    flooder = RawSocket(live.url, cookie=bob.cookie)
    flooder.connect_namespace({"room": "general"})
    sent = 0
    with pytest.raises((websocket.WebSocketException, OSError)):
        for sent in range(1, 5001):
            flooder.send(f'42{sent}["no such event",{{"junk":{sent}}}]')
        while True:  # everything went out: the close comes while reading
            flooder.recv()
    assert sent <= 5000
    bystander.wait_users(["alice"], timeout=10)
    started = time.monotonic()
    assert bystander.send("still quick")["ok"]
    assert time.monotonic() - started < 1
    bystander.close()


def test_jsonp_is_refused_in_every_configuration(server):
    answer = requests.get(server.url + "/socket.io/?EIO=4&transport=polling&j=0", timeout=5)
    assert answer.status_code == 400
    assert "JSONP" in answer.text
    # Plain long-polling, as standard clients start, still opens a session.
    plain = requests.get(server.url + "/socket.io/?EIO=4&transport=polling", timeout=5)
    assert plain.status_code == 200 and plain.text.startswith("0{")


def test_python_socketio_client_with_its_default_transports(server, alice_session):
    client = socketio.SimpleClient()
    client.connect(server.url, headers=alice_session.headers, auth={"room": "random"})
    try:
        assert client.receive(timeout=10)[0] == "history"
        assert client.call("message", {"text": "over polling, then upgraded"})["ok"]
    finally:
        client.disconnect()


def test_a_message_with_a_second_argument_is_refused(server, alice_session):
    raw = RawSocket(server.url, cookie=alice_session.cookie)
    raw.connect_namespace({"room": "general"})
    raw.send('421["message",{"text":"x"},2]')
    answer = next(f for f in iter(raw.recv, None) if f.startswith("431"))
    assert json.loads(answer[3:]) == [
        {"ok": False, "error": 'A message must be an object like {"text": "..."}.'}
    ]
    raw.close()


def test_long_event_names_are_shortened_in_acks_and_logs(server, alice_session, clients):
    name = "shout" + "!" * 5000
    client = clients.open(alice_session, "general")
    answer = client.sio.call(name, {}, timeout=10)
    assert answer["ok"] is False
    assert len(answer["error"]) < 80
    marker = client.send("after the long name")  # its log line comes after
    assert marker["ok"]
    assert "!" * 100 not in server.tail(200)


def test_a_foreign_cookie_with_odd_characters_does_not_hide_the_session(server, alice_session):
    odd = "tracker=a b c; " + alice_session.cookie  # SimpleCookie gives up on this
    client = ChatClient(server.url, room="general")
    client.headers = {"Cookie": odd}
    client.connect()
    try:
        assert client.wait_for("joined")["user"] == "alice"
    finally:
        client.close()


def test_a_gap_too_large_to_fill_tells_the_page_to_start_afresh(
    server, alice_session, clients, fresh_room
):
    writer = clients.open(alice_session, fresh_room)
    first = writer.send("seen before the gap")["id"]
    ids = [writer.send(f"missed {i}")["id"] for i in range(GAP_FILL_LIMIT + 2)]
    back = clients.open(alice_session, fresh_room, after=first)
    history = back.wait_for("history")
    assert back.of("history_reset")
    assert [name for name, _ in back.events][:2] == ["history_reset", "history"]
    assert [m["id"] for m in history] == ids[-GAP_FILL_LIMIT:]
    within = clients.open(alice_session, fresh_room, after=ids[2])
    assert len(within.wait_for("history")) == GAP_FILL_LIMIT - 1
    assert within.of("history_reset") == []


def test_closed_websockets_leave_one_clean_log_line_each(servers):
    live = servers.start()
    alice = login(live.url, "alice", DEMO_PASSWORD)
    room = "log-" + uuid.uuid4().hex[:6]
    live.create_room(room, room)
    for _ in range(5):
        client = connected(live.url, alice, room)
        client.close()
    last = connected(live.url, alice, room)
    last.wait_users(["alice"])
    last.close()
    wait_until(lambda: live.tail(400).count(" left ") >= 6, message="the leaves logged")
    log = live.tail(400)
    assert "socket shutdown error" not in log
    # Every line is a record of its own: no write glued to the next one.
    assert all(line.count(" INFO ") + line.count(" WARNING ") <= 1 for line in log.splitlines())


def test_a_query_that_merely_contains_sid_does_not_skip_the_session_cap(servers):
    # Issue 21: "sid=" anywhere in the query skipped admission (the cap, the slots).
    live = servers.start(WORKER_CONNECTIONS="12")  # a pool of 12: at most 4 chat sessions
    admitted = [RawSocket(live.url) for _ in range(4)]
    try:
        for query in ("&x=sid=", "&sid=", "&x=1&sid"):
            with pytest.raises(websocket.WebSocketBadStatusException) as refused:
                admitted.append(RawSocket(live.url, query=query))
            assert refused.value.status_code in (400, 503)
        assert requests.get(live.url + "/account", timeout=5).status_code == 200
    finally:
        for raw in admitted:
            raw.close()


def test_a_storm_is_admitted_at_the_worker_s_pace_and_pages_still_load(servers):
    """Issue 16: more clients than the worker takes; the rest get 503 and retry."""
    live = servers.start(WORKER_CONNECTIONS="40")  # a pool of 40: at most 32 chat sessions
    cookies = list(live.create_sessions([f"storm{i}" for i in range(60)]).values())
    pages, stop = [], threading.Event()

    def load_pages():
        while not stop.is_set():
            pages.append(requests.get(live.url + "/account", timeout=5).status_code)

    watcher = threading.Thread(target=load_pages)
    watcher.start()
    admitted, refused = [], []

    def storm(cookie):
        try:
            raw = RawSocket(live.url, cookie=cookie)
        except websocket.WebSocketBadStatusException as error:
            refused.append(error.status_code)
            return
        raw.connect_namespace({"room": "general"})
        admitted.append(raw)

    try:
        with ThreadPoolExecutor(max_workers=60) as pool:
            list(pool.map(storm, cookies))
        assert len(admitted) == 32
        assert set(refused) == {503} and len(refused) == 28
        for raw in admitted[:10]:
            raw.close()
        # Room again as they leave: the next clients get in.
        again = wait_until(
            lambda: [r for r in [_try_join(live, c) for c in cookies[:5]] if r], timeout=20
        )
        for raw in again:
            raw.close()
    finally:
        stop.set()
        watcher.join()
        for raw in admitted[10:]:
            raw.close()
    assert pages and set(pages) == {200}


def _try_join(live, cookie):
    try:
        raw = RawSocket(live.url, cookie=cookie)
    except websocket.WebSocketBadStatusException:
        return None
    raw.connect_namespace({"room": "general"})
    return raw


def test_a_join_gives_its_slot_back_at_once(servers):
    """Issue 16: one join slot and no wait for it: each client gets in only if
    the one before gave its slot back when it joined."""
    live = servers.start(JOINS_IN_FLIGHT="1", JOIN_WAIT="0")
    cookies = live.create_sessions([f"slot{i}" for i in range(5)]).values()
    joined = []
    try:
        for cookie in cookies:
            raw = RawSocket(live.url, cookie=cookie)
            assert raw.connect_namespace({"room": "general"})[-1].startswith("40")
            joined.append(raw)
    finally:
        for raw in joined:
            raw.close()


def test_sessions_over_the_join_slots_wait_for_one_instead_of_being_refused(servers):
    """Issue 16: a crowd larger than the join slots all gets in, none refused."""
    live = servers.start(JOINS_IN_FLIGHT="2", JOIN_WAIT="20")
    cookies = list(live.create_sessions([f"crowd{i}" for i in range(20)]).values())
    joined = []

    def join(cookie):
        raw = RawSocket(live.url, cookie=cookie)
        frames = raw.connect_namespace({"room": "general"})
        joined.append(raw)
        return frames[-1][:2]

    try:
        with ThreadPoolExecutor(max_workers=20) as pool:
            assert list(pool.map(join, cookies)) == ["40"] * 20
    finally:
        for raw in joined:
            raw.close()
