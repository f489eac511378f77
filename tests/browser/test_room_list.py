"""The room list (/chat/, issue 13): next to each room, how many people are in
it and how many messages the reader has not read there, both live over the
Socket.IO namespace /lobby. Other users talk through Socket.IO clients."""

import re
import uuid

import pytest

from tests.support.browser import (
    enter_room,
    log_in,
    received_frames,
    tap_the_wire,
    wait_for,
    wait_line,
)
from tests.support.server import DEMO_PASSWORD, login

pytestmark = pytest.mark.browser


def counts(driver, room):
    """(people online, unread messages) shown for ``room``; None for what is not shown."""
    return tuple(
        driver.execute_script(
            """
            var room = arguments[0];
            var $item = $("#rooms .room-item").filter(function () {
              return this.getAttribute("data-room") === room;
            });
            var $online = $item.find(".online-count");
            var $unread = $item.find(".unread-count");
            return [$online.is(":visible") ? Number($online.text()) : null,
                    $unread.length ? Number($unread.text()) : null];
            """,
            room,
        )
    )


def newest_counted(driver, room):
    """The newest message id the list has counted for ``room`` (its data-newest)."""
    value = driver.execute_script(
        "return $('#rooms .room-item[data-room=\"' + arguments[0] + '\"]').attr('data-newest')",
        room,
    )
    return int(value) if value else None


def open_list(driver, server_url, username):
    log_in(driver, server_url, username)
    driver.get(server_url + "/chat/")
    return driver


def visit(server, browsers, username, room):
    """``username`` opens ``room`` once (which starts counting its unread
    messages), then goes back to the room list."""
    driver = enter_room(browsers.new(), server.url, username, room)
    driver.get(server.url + "/chat/")
    return driver


def test_the_list_shows_how_many_are_online_live(server, browsers, clients, fresh_room):
    alice = open_list(browsers.new(), server.url, "alice")
    wait_for(alice, lambda d: counts(d, fresh_room) == (0, None), message="nobody there")

    bob = enter_room(browsers.new(), server.url, "bob", fresh_room)
    wait_for(alice, lambda d: counts(d, fresh_room)[0] == 1, message="bob counted")
    carol = clients.open(login(server.url, "carol", DEMO_PASSWORD), fresh_room)
    wait_for(alice, lambda d: counts(d, fresh_room)[0] == 2, message="carol counted")
    bob.get(server.url + "/chat/")  # bob leaves the room
    wait_for(alice, lambda d: counts(d, fresh_room)[0] == 1, message="bob gone")
    carol.close()
    wait_for(alice, lambda d: counts(d, fresh_room)[0] == 0, message="carol gone")
    # A link to each room, its name alone as the link's text.
    link = alice.find_element("css selector", f".room-item[data-room='{fresh_room}'] a.room-link")
    assert link.text == f"Test room {fresh_room}"


def test_the_list_counts_unread_messages_live(server, browsers, clients, fresh_room):
    never_opened = server.create_room(f"Test room n-{fresh_room}", "n-" + fresh_room)
    bob = visit(server, browsers, "bob", fresh_room)
    wait_for(bob, lambda d: counts(d, fresh_room) == (0, None), message="nothing unread")

    carol = clients.open(login(server.url, "carol", DEMO_PASSWORD), fresh_room)
    bob_elsewhere = clients.open(login(server.url, "bob", DEMO_PASSWORD), fresh_room)
    first = carol.send("one for bob")["id"]
    wait_for(bob, lambda d: counts(d, fresh_room)[1] == 1, message="1 unread")
    carol.send("two for bob")
    wait_for(bob, lambda d: counts(d, fresh_room)[1] == 2, message="2 unread")
    # bob's own words (from another device) are not unread for him.
    own = bob_elsewhere.send("bob writes too")["id"]
    wait_for(bob, lambda d: newest_counted(d, fresh_room) == own, message="bob's line seen")
    assert counts(bob, fresh_room)[1] == 2

    # A room he never opened counts nothing.
    carol_there = clients.open(login(server.url, "carol", DEMO_PASSWORD), never_opened)
    there = carol_there.send("in a room bob never opened")["id"]
    wait_for(bob, lambda d: newest_counted(d, never_opened) == there, message="seen")
    assert counts(bob, never_opened)[1] is None
    assert first < own

    # The page as served (the view) has the same counts, before any socket.
    page = login(server.url, "bob", DEMO_PASSWORD).session.get(server.url + "/chat/", timeout=5)
    assert served_unread(page.text, fresh_room) == "2"
    assert served_unread(page.text, never_opened) is None


def served_unread(html, room):
    """The unread count in the list item of ``room`` as the server wrote it."""
    item = re.search(rf'<li [^>]*data-room="{re.escape(room)}"[^>]*>(.*?)</li>', html, re.S)
    assert item and 'class="room-link' in item.group(1)
    count = re.search(r'class="unread-count">([^<]*)<', item.group(1))
    return count and count.group(1)


def test_reading_a_room_in_another_tab_clears_its_count(server, browsers, clients, fresh_room):
    bob = visit(server, browsers, "bob", fresh_room)
    list_tab = bob.current_window_handle
    carol = clients.open(login(server.url, "carol", DEMO_PASSWORD), fresh_room)
    for number in range(3):
        carol.send(f"unread {number} {uuid.uuid4().hex[:6]}")
    wait_for(bob, lambda d: counts(d, fresh_room)[1] == 3, message="3 unread")

    bob.switch_to.new_window("tab")
    bob.get(f"{server.url}/chat/{fresh_room}/")
    bob.execute_cdp_cmd("Page.bringToFront", {})  # a tab in front has the focus
    wait_line(bob, "bob has joined the chat")
    # The newest is in view in a focused tab: read; the list's count goes.
    bob.switch_to.window(list_tab)
    wait_for(bob, lambda d: counts(d, fresh_room)[1] is None, message="count gone")


def test_an_activity_already_in_the_counts_is_not_counted_again(
    server, browsers, clients, fresh_room
):
    """The counts of ``rooms`` hold every message up to each room's ``newest``:
    an ``activity`` at or below it (one still on its way when the list
    connected) is not counted a second time; a newer one is."""
    bob = visit(server, browsers, "bob", fresh_room)
    tap_the_wire(bob)
    bob.refresh()
    wait_for(bob, lambda d: counts(d, fresh_room) == (0, None), message="nothing unread")
    carol = clients.open(login(server.url, "carol", DEMO_PASSWORD), fresh_room)
    first = carol.send("counted once")["id"]
    wait_for(bob, lambda d: counts(d, fresh_room)[1] == 1, message="1 unread")
    (late,) = received_frames(bob, "activity")  # the real frame, to be delivered again late

    bob.refresh()  # a new list: its rooms count that message already
    wait_for(bob, lambda d: counts(d, fresh_room) == (1, 1), message="counted by rooms")
    assert newest_counted(bob, fresh_room) == first
    bob.execute_script("window.d09Deliver(arguments[0])", late)
    assert counts(bob, fresh_room)[1] == 1

    carol.send("a new one")
    wait_for(bob, lambda d: counts(d, fresh_room)[1] == 2, message="a newer one counts")
