"""A deploy: SIGTERM to the real gunicorn server with pages and a standard
client connected and a message on its way, then a new server on the same port
(issue 20, item 2). The old process stops by itself well before a host's
SIGKILL; every page and the standard client come back; no page tries before the
delay the server gave it; the message is shown once."""

import signal
import time

import pytest
import socketio

from d09.runtime.drain import first_return
from tests.support.browser import (
    enter_room,
    lines,
    restart_watch,
    submit,
    unique,
    users,
    wait_for,
    wait_ready,
    watch_restarts,
)
from tests.support.server import DEMO_PASSWORD, login, wait_until

pytestmark = pytest.mark.browser

HOST_SIGKILL_AFTER = 30  # Heroku's, after its SIGTERM


def standard_client(live, username, room):
    """python-socketio's own client with its own reconnection backoff."""
    client = socketio.Client(reconnection=True, reconnection_delay=0.5, reconnection_delay_max=2)
    client.connects = []
    client.on("connect", lambda: client.connects.append(time.monotonic()))
    session = login(live.url, username, DEMO_PASSWORD)
    client.connect(
        live.url,
        headers=session.headers,
        auth={"room": room},
        transports=["websocket"],
        wait_timeout=20,
    )
    return client


def stop_with_sigterm(live):
    """SIGTERM, as a host sends it; the seconds the process took to exit by itself."""
    started = time.monotonic()
    live.process.send_signal(signal.SIGTERM)
    returncode = live.process.wait(timeout=HOST_SIGKILL_AFTER)
    live.log.close()
    assert returncode == 0, live.tail()
    return time.monotonic() - started


def test_a_sigterm_deploy_brings_everyone_back_in_turn_and_loses_nothing(servers, browsers):
    # Three sessions at one a second: their delays are 0, 1 and 2 s after the
    # first return (once the old process settled and a new one can be up).
    live = servers.start(DEPLOY_RETURN_RATE="1", DEPLOY_SETTLE_SECONDS="1")
    first = first_return(settle=1)
    pages = [
        enter_room(watch_restarts(browsers.new()), live.url, name, "random")
        for name in ("alice", "bob")
    ]
    carol = standard_client(live, "carol", "random")
    try:
        for page in pages:
            wait_for(page, lambda d: users(d) == ["alice", "bob", "carol"], message="all in")
        in_flight = unique("sent as the server stops")
        submit(pages[1], in_flight)
        took = stop_with_sigterm(live)
        assert took < HOST_SIGKILL_AFTER / 2, f"stopped after {took:.1f} s"
        live.start()  # the new process, on the same port

        for page in pages:
            wait_ready(page, message="back after the deploy")
            wait_for(page, lambda d: users(d) == ["alice", "bob", "carol"], 30, "all back")
        wait_until(lambda: len(carol.connects) == 2, timeout=30, message="carol back")
        delays = []
        for page in pages:
            wait_for(page, lambda d, text=in_flight: f"bob: {text}" in lines(d), 20, "the line")
            assert lines(page).count(f"bob: {in_flight}") == 1
            [notice], opened = restart_watch(page)
            delays.append(notice["retry_after"])
            first_try = min(at for at in opened if at > notice["at"])
            assert first_try >= notice["at"] + notice["retry_after"] * 1000
        assert len(set(delays)) == 2 and set(delays) <= {first, first + 1.0, first + 2.0}
    finally:
        carol.disconnect()
