"""A database restored to an earlier state (a backup, a failover to a replica
that lagged): the server's change number goes back, and the page must follow
it, or its next reconnect asks for changes after a number the room has not
reached yet and misses what was said meanwhile (issue 21, item 5)."""

import sqlite3

import pytest

from tests.support.browser import (
    enter_room,
    offline,
    switchable,
    unique,
    wait_line,
    wait_ready,
)
from tests.support.server import DEMO_PASSWORD, login
from tests.support.sio import connected

pytestmark = pytest.mark.browser


def database_path(live):
    return live.env["DATABASE_URL"].split("sqlite:///", 1)[1]


def snapshot(live, to):
    """A consistent copy of the running server's SQLite database."""
    with sqlite3.connect(database_path(live)) as source, sqlite3.connect(to) as copy:
        source.backup(copy)


def restore(live, copy):
    """The server stopped, its database replaced by ``copy``, started again."""
    live.stop()
    path = database_path(live)
    with sqlite3.connect(copy) as source, sqlite3.connect(path) as target:
        source.backup(target)
    live.start()


def test_after_a_restore_the_page_follows_the_servers_lower_change_number(
    servers, browsers, tmp_path
):
    live = servers.start()
    # bob's session is in the backup: the restored server still knows him.
    bob = enter_room(switchable(browsers.new()), live.url, "bob", "random")
    carol = login(live.url, "carol", DEMO_PASSWORD)
    talker = connected(live.url, carol, "random")
    kept = unique("kept by the backup")
    talker.post(kept)
    snapshot(live, tmp_path / "backup.sqlite3")
    lost = [unique("lost with the restore") for _ in range(3)]
    for text in lost:
        talker.post(text)
    talker.close()
    wait_line(bob, f"carol: {lost[-1]}")
    restore(live, tmp_path / "backup.sqlite3")
    # carol's session is not in the backup: she logs in again.
    talker = connected(live.url, login(live.url, "carol", DEMO_PASSWORD), "random")
    talker.wait_users(["bob", "carol"], timeout=20)  # bob's page is back
    try:
        after = unique("after the restore")
        talker.post(after)
        wait_line(bob, f"carol: {after}")
        offline(bob, cut=True)
        while_away = unique("said while bob was away")
        talker.post(while_away)
        offline(bob, off=False)
        wait_ready(bob, message="bob back")
        # Asked from the number the server gave, bob's page gets the line.
        wait_line(bob, f"carol: {while_away}")
    finally:
        talker.close()
