"""Issue 21, item 1 against the real server: a client that does not read
cannot take the worker's memory, and costly answers come within a per-user
budget."""

import threading
import time
from pathlib import Path

import pytest
import websocket

from tests.support.raw import RawSocket
from tests.support.server import DEMO_PASSWORD, login, wait_until
from tests.support.sio import connected

pytestmark = pytest.mark.server

LONGEST_LINE = "x" * 1990  # a full page of scroll-back of these: about 210 KB of JSON
OLDER_PAGE = '["older",{"before":999999999,"limit":100}]'


def worker_rss_mb(live):
    total_kb = 0
    for pid in live.worker_pids():
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total_kb += int(line.split()[1])
    return total_kb / 1024


class NonReader(threading.Thread):
    """A logged-in client of ``room`` that stops reading once it joined, with a
    small receive buffer; it sends ``frame(n)`` ``rate`` times a second (none:
    ``frame`` is None) and answers pings without reading them, so it stays
    alive. ``cut_after``: seconds until the server cut it (a send failed)."""

    def __init__(self, live, cookie, room, frame=None, rate=45, seconds=10):
        super().__init__(daemon=True)
        self.raw = RawSocket(live.url, cookie=cookie, receive_buffer=4096)
        assert self.raw.connect_namespace({"room": room})[-1].startswith("40")
        self.frame, self.rate, self.seconds = frame, rate, seconds
        self.cut_after = None
        self.sent = 0

    def run(self):
        started = time.monotonic()
        last_pong = started
        try:
            while time.monotonic() - started < self.seconds:
                if self.frame is not None:
                    self.sent += 1
                    self.raw.send(self.frame(self.sent))
                if time.monotonic() - last_pong > 2:
                    self.raw.send("3")  # the server's pings are never read: answer blindly
                    last_pong = time.monotonic()
                time.sleep(1 / self.rate)  # the client's pace, not a synchronisation
        except (websocket.WebSocketException, OSError):
            self.cut_after = time.monotonic() - started
        finally:
            self.raw.ws.shutdown()


def post_lines(client, count, text=LONGEST_LINE):
    for i in range(count):
        client.post(f"{i:>5} {text}")


def test_a_client_that_asks_for_pages_and_never_reads_is_cut_and_the_worker_stays_small(servers):
    """The issue's client: ``older`` 45 times a second, inside the frame
    budget, never reading, answering pings. The per-user budget is off here:
    the bound on what a connection may have queued alone must stop it."""
    live = servers.start(HISTORY_RATE_BURST="0")
    room = live.create_room("Scroll", "scroll")
    alice, bob, carol = (login(live.url, name, DEMO_PASSWORD) for name in ("alice", "bob", "carol"))
    writer, member = connected(live.url, alice, room), connected(live.url, carol, room)
    post_lines(writer, 100)
    before = worker_rss_mb(live)
    reader = NonReader(live, bob.cookie, room, frame=lambda n: f"42{n}{OLDER_PAGE}")
    reader.start()
    peak = before
    while reader.is_alive():
        peak = max(peak, worker_rss_mb(live))
        time.sleep(0.05)  # sampling pace
    assert reader.cut_after is not None, f"still connected after {reader.seconds} s"
    assert peak - before < 60, f"the worker grew from {before:.0f} to {peak:.0f} MB"
    member.wait(lambda c: "bob" in c.who("left"), "bob cut and gone from the list")
    started = time.monotonic()
    writer.post("still quick")
    member.wait_for("message", lambda m: m["text"] == "still quick", timeout=1)
    assert time.monotonic() - started < 1
    writer.close()
    member.close()


def test_a_slow_reader_in_a_busy_room_is_cut_instead_of_growing(servers):
    live = servers.start(SIO_MAX_QUEUED_BYTES=str(256 * 1024))
    room = live.create_room("Busy", "busy")
    alice, bob, carol = (login(live.url, name, DEMO_PASSWORD) for name in ("alice", "bob", "carol"))
    writer, member = connected(live.url, alice, room), connected(live.url, carol, room)
    reader = NonReader(live, bob.cookie, room, rate=10, seconds=30)
    reader.start()
    member.wait_users(["alice", "bob", "carol"])
    posted = 0
    while "bob" not in member.who("left"):
        assert posted < 2500, "the slow reader was never cut (5 MB of broadcasts queued)"
        writer.post(f"{posted:>5} {LONGEST_LINE}")
        posted += 1
    wait_until(lambda: reader.cut_after is not None, timeout=5, message="bob's socket closed")
    # Everyone else got every line, in order.
    member.wait(lambda c: len(c.of("message")) == posted, f"{posted} messages")
    writer.close()
    member.close()


def test_costly_requests_are_answered_within_a_budget_per_user(servers):
    live = servers.start(HISTORY_RATE_BURST="3", HISTORY_RATE_PER_MINUTE="60")
    bob, carol = (login(live.url, name, DEMO_PASSWORD) for name in ("bob", "carol"))
    tabs = [connected(live.url, bob, "general") for _ in range(2)]
    assert tabs[0].call({"before": 999999999, "limit": 100}, event="older")["ok"]
    assert tabs[1].call({}, event="users")["ok"]
    assert tabs[1].call({"before": 999999999, "limit": 100}, event="older")["ok"]
    refused = tabs[0].call({}, event="users")  # the user's fourth, on another tab
    refused_at = time.monotonic()
    assert refused == {
        "ok": False,
        "error": "Too many requests for older messages or the user list: wait 1 second.",
        "retry_after": 1,
    }
    other = connected(live.url, carol, "general")
    assert other.call({}, event="users")["ok"]  # another user's budget is their own
    tabs[0].call({}, event="users")  # read only once the refusal's wait is over
    assert time.monotonic() - refused_at >= 0.9
    wait_until(
        lambda: tabs[0].call({}, event="users")["ok"], timeout=3, message="the budget refilled"
    )
    for client in (*tabs, other):
        client.close()


def first_ping_after(raw, opened, arrivals):
    """Seconds from ``opened`` until ``raw`` got its first ping, into ``arrivals``."""
    while raw.ws.recv() != "2":
        pass
    arrivals.append(time.monotonic() - opened)


def test_connections_that_arrive_together_are_pinged_and_cut_apart(servers):
    """Clients that joined together and then all stop answering (the bench's
    non-readers) were cut together by the ping timeout, and came back together:
    each wave held the worker's loop for hundreds of ms. Each connection's first
    ping now comes after a random share of the interval (half of it to all of
    it), never later than python-engineio's."""
    interval = 4
    live = servers.start(SIO_PING_INTERVAL=str(interval), SIO_PING_TIMEOUT="4")
    room = live.create_room("Ping spread", "ping-spread")
    cookie = login(live.url, "alice", DEMO_PASSWORD).cookie
    sockets = [RawSocket(live.url, cookie=cookie, timeout=interval * 3) for _ in range(12)]
    opened = time.monotonic()
    for raw in sockets:
        assert raw.connect_namespace({"room": room})[-1].startswith("40")
    arrivals = []
    readers = [
        threading.Thread(target=first_ping_after, args=(raw, opened, arrivals), daemon=True)
        for raw in sockets
    ]
    try:
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join(interval * 3)
        assert len(arrivals) == len(sockets)
        assert max(arrivals) <= interval + 1  # never later than the library's ping
        assert min(arrivals) >= interval / 2 - 1
        assert max(arrivals) - min(arrivals) >= interval / 8, sorted(arrivals)
    finally:
        for raw in sockets:
            raw.close()
