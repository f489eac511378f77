"""Password hashing does not stop the chat (issue 11, item 4): on the real server,
a chat client on the same worker keeps getting acks while logins and a signup hash.

PBKDF2 takes about 0.3 s of CPU per hash. On the event loop, every other client of
the worker would wait for each hash in turn; on an OS thread (d09/hashers.py) the
loop goes on beside it.
"""

import threading
import time
import uuid

import pytest
import requests

from tests.support.server import DEMO_PASSWORD, csrf_post, login
from tests.support.sio import ack_times_while, connected

pytestmark = pytest.mark.server


def test_a_chat_client_is_answered_promptly_while_passwords_hash(servers):
    server = servers.start()
    room = server.create_room("Hashing", "hashing")
    chat = connected(server.url, login(server.url, "alice", DEMO_PASSWORD), room)
    assert chat.send("before the logins")["ok"]

    def post(path, data):
        return csrf_post(requests.Session(), server.url, path, data).status_code

    new_name = f"new{uuid.uuid4().hex[:10]}"
    hashing = [  # every kind of request that hashes a password
        ("/account/login", {"username": "bob", "password": DEMO_PASSWORD}, 200),
        ("/account/login", {"username": "carol", "password": "a wrong one"}, 400),
        # An unknown name: Django hashes anyway, so that timing does not tell.
        ("/account/login", {"username": "nobody-at-all", "password": "x"}, 400),
        (
            "/account/signup",
            {"username": new_name, "password1": "p-a-s-s-1-2-3", "password2": "p-a-s-s-1-2-3"},
            200,
        ),
    ]
    durations, statuses = [], []

    def run(path, data, expected):
        started = time.monotonic()
        statuses.append((post(path, data), expected))
        durations.append(time.monotonic() - started)

    threads = [threading.Thread(target=run, args=request) for request in hashing]
    # Chat on, ack after ack, for as long as any of the hashing requests runs.
    latencies = ack_times_while(chat, threads)
    chat.close()

    assert len(statuses) == len(hashing)
    assert all(status == expected for status, expected in statuses), statuses
    # Each request took at least one hash; the chat was answered all along, acks
    # in a fraction of one hash. With hashing on the loop an ack waits for the hash
    # under way, and for the next ones: a few acks, each as slow as a login. (The
    # median, not the slowest: on a loaded machine one ack may wait for the CPU.)
    assert len(latencies) >= 10, (latencies, durations)
    median = sorted(latencies)[len(latencies) // 2]
    assert median < min(durations) / 4, (latencies, durations)
