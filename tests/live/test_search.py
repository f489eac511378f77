"""Search on the real server (gunicorn + eventlet): the page over HTTP, hostile
requests, and the chat answered while searches run.

On SQLite a search runs in SQLite's C code, which never yields to the event
loop: on the loop, every chat client of the worker would wait for each search.
It runs on an OS thread instead (d09.runtime.green.on_os_thread).
"""

import sqlite3
import threading
import time
import uuid
from urllib.parse import urlencode

import pytest
import requests

from tests.support.server import DEMO_PASSWORD, login
from tests.support.sio import ack_times_while, connected

pytestmark = pytest.mark.server


def search(logged_in, **query):
    return logged_in.session.get(
        logged_in.base_url + "/chat/search/?" + urlencode(query), timeout=30
    )


def test_a_message_said_in_a_room_is_found_on_the_page(server, alice_session, fresh_room):
    word = "zq" + uuid.uuid4().hex[:10]
    chat = connected(server.url, alice_session, fresh_room)
    try:
        assert chat.send(f"the {word} deployed <b>bold</b>")["ok"]
    finally:
        chat.close()
    answer = search(alice_session, q=word)
    assert answer.status_code == 200
    assert f"<mark>{word}</mark> deployed &lt;b&gt;bold&lt;/b&gt;" in answer.text
    assert (
        search(alice_session, q=word, room=fresh_room).text.count(
            'class="list-group-item search-result"'
        )
        == 1
    )


@pytest.mark.parametrize(
    "query",
    [
        {"q": "x " * 1900},  # near the longest request line gunicorn takes
        {"q": '"' * 500},
        {"q": "NEAR(a b) OR c* ^d title:e"},
        {"q": "\x00\x01 \ud800".encode("utf-8", "surrogatepass").decode("latin-1")},
        {"q": "a", "page": "-1"},
        {"q": "a", "page": "1e9"},
        {"q": ["a", "b"]},
        {"q": "a", "extra": "field"},
    ],
)
def test_hostile_queries_get_a_page(server, bob_session, query):
    assert search(bob_session, **query).status_code == 200


def test_the_page_refuses_strangers_and_hidden_rooms(server, alice_session):
    stranger = requests.get(server.url + "/chat/search/?q=x", allow_redirects=False, timeout=10)
    assert stranger.status_code == 302
    assert search(alice_session, q="x", room="no-such-room").status_code == 404
    assert (
        alice_session.session.post(server.url + "/chat/search/", timeout=10).status_code == 403
    )  # CSRF first; a GET-only view besides


MESSAGES = 200_000


def fill(database_path, count):
    """``count`` messages with the word "common" in the room general, written
    behind the server's back (the triggers index them as the server's own)."""
    db = sqlite3.connect(database_path, timeout=30)
    try:
        room_id = db.execute("SELECT id FROM chat_room WHERE slug = 'general'").fetchone()[0]
        author_id = db.execute("SELECT id FROM auth_user WHERE username = 'carol'").fetchone()[0]
        rows = (
            (room_id, author_id, f"common words number {n} of many", "2026-01-01 00:00:00")
            for n in range(count)
        )
        with db:
            db.executemany(
                "INSERT INTO chat_message (room_id, author_id, text, created, "
                "client_message_id, seq, mentions) VALUES (?, ?, ?, ?, '', 0, '[]')",
                rows,
            )
    finally:
        db.close()


def test_the_chat_is_answered_while_searches_run(servers):
    server = servers.start(SEARCH_RATE_BURST="1000", SEARCHES_IN_FLIGHT="8")
    fill(server.env["DATABASE_URL"].split("sqlite:///", 1)[1], MESSAGES)
    room = server.create_room("Searching", "searching")
    chat = connected(server.url, login(server.url, "alice", DEMO_PASSWORD), room)
    searchers = [login(server.url, name, DEMO_PASSWORD) for name in ("bob", "carol")]
    assert chat.send("before the searches")["ok"]

    durations, statuses = [], []

    def run(searcher):
        for page in range(1, 4):
            started = time.monotonic()
            statuses.append(search(searcher, q="common", page=str(page)).status_code)
            durations.append(time.monotonic() - started)

    threads = [threading.Thread(target=run, args=(searcher,)) for searcher in searchers]
    latencies = ack_times_while(chat, threads)
    chat.close()

    assert statuses == [200] * 6
    # Each search ranks 200,000 matches; the chat was answered all along, acks
    # in a fraction of one search. With the search on the loop an ack waits for
    # the search under way. (The median: one ack may wait for the CPU.)
    assert len(latencies) >= 10, (latencies, durations)
    median = sorted(latencies)[len(latencies) // 2]
    assert median < min(durations) / 4, (latencies, durations)


# -- "newer": a room opened at a message goes down to the live end ---------------------------


def test_newer_pages_go_down_to_the_live_end(server, alice_session, fresh_room, clients):
    chat = clients.open(alice_session, fresh_room)
    sent = [chat.post(f"line {n}") for n in range(5)]
    first = chat.call({"after": sent[0], "limit": 2}, event="newer")
    assert first["ok"] and first["more"] is True
    assert [m["id"] for m in first["messages"]] == sent[1:3]
    last = chat.call({"after": sent[2], "limit": 2}, event="newer")
    assert [m["id"] for m in last["messages"]] == sent[3:5] and last["more"] is False


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (None, "Ask for newer messages with"),
        ("x", "Ask for newer messages with"),
        ({"after": "1", "limit": 5}, '"after" must be a message id'),
        ({"after": -1, "limit": 5}, '"after" must be a message id'),
        ({"after": True, "limit": 5}, '"after" must be a message id'),
        ({"after": 1, "limit": 101}, '"limit" must be a whole number from 1 to 100'),
        ({"after": 1, "limit": 0}, '"limit" must be a whole number from 1 to 100'),
        ({"after": 1, "limit": 5, "extra": 1}, "Unexpected field"),
        ({"after": 1}, "limit"),
    ],
)
def test_newer_refuses_bad_requests_clearly(
    server, bob_session, fresh_room, clients, payload, error
):
    chat = clients.open(bob_session, fresh_room)
    answer = chat.call(payload, event="newer")
    assert answer["ok"] is False and error in answer["error"], answer


def test_newer_is_within_the_history_budget(servers, clients):
    server = servers.start(HISTORY_RATE_BURST="3", HISTORY_RATE_PER_MINUTE="60")
    chat = clients.open(login(server.url, "bob", DEMO_PASSWORD), "general", server=server)
    answers = [chat.call({"after": 0, "limit": 1}, event="newer") for _ in range(4)]
    assert [answer["ok"] for answer in answers] == [True, True, True, False]
    assert "Too many requests" in answers[-1]["error"]
    assert chat.send("still chatting")["ok"]
