"""The same app under gunicorn's gevent worker (SIO_ASYNC_MODE=gevent)."""

import pytest

from tests.support.cluster import start_sqlite_server
from tests.support.server import DEMO_PASSWORD, login

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def gevent_server(tmp_path_factory):
    server = start_sqlite_server(
        tmp_path_factory.mktemp("gevent"),
        "gevent",
        {"SIO_ASYNC_MODE": "gevent"},
        worker_class="gevent",
    )
    yield server
    server.stop()


def test_login_join_message_and_leave_under_gevent(gevent_server, taps):
    alice = login(gevent_server.url, "alice", DEMO_PASSWORD)
    bob = login(gevent_server.url, "bob", DEMO_PASSWORD)
    on_alice = taps.open(gevent_server, alice, "general")
    on_alice.wait(lambda tap: tap.of("history") == [[]], "empty history")
    on_bob = taps.open(gevent_server, bob, "general")
    on_alice.wait_users(["alice", "bob"])
    assert {"user": "bob"} in on_alice.of("joined")

    sent = on_bob.send("hello under gevent")
    for tap in (on_alice, on_bob):
        tap.wait(lambda tap: tap.message_ids() == [sent], "the message")
    assert on_alice.of("message")[0]["text"] == "hello under gevent"

    on_bob.close()
    on_alice.wait(lambda tap: {"user": "bob"} in tap.of("left"), "bob's left notice")
    on_alice.wait_users(["alice"])
    assert "Using worker: gevent" in gevent_server.tail(400)
    assert "async mode gevent" in gevent_server.tail(400)
