"""The same app under gunicorn's gevent worker (SIO_ASYNC_MODE=gevent)."""

import pytest

from tests.support.server import DEMO_PASSWORD, login

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def gevent_server(module_servers):
    return module_servers.start(worker_class="gevent", SIO_ASYNC_MODE="gevent")


def test_login_join_message_and_leave_under_gevent(gevent_server, clients):
    alice = login(gevent_server.url, "alice", DEMO_PASSWORD)
    bob = login(gevent_server.url, "bob", DEMO_PASSWORD)
    on_alice = clients.open(alice, "general", server=gevent_server)
    on_alice.wait(lambda tap: tap.of("history") == [[]], "empty history")
    on_bob = clients.open(bob, "general", server=gevent_server)
    on_alice.wait_users(["alice", "bob"])
    assert "bob" in on_alice.who("joined")

    sent = on_bob.post("hello under gevent")
    for tap in (on_alice, on_bob):
        tap.wait(lambda tap: tap.message_ids() == [sent], "the message")
    assert on_alice.of("message")[0]["text"] == "hello under gevent"

    on_bob.close()
    on_alice.wait(lambda tap: "bob" in tap.who("left"), "bob's left notice")
    on_alice.wait_users(["alice"])
    assert "Using worker: gevent" in gevent_server.tail(400)
    assert "async mode gevent" in gevent_server.tail(400)
