"""Unread messages in a room (issue 13): the page marks the room read when the
newest message is visible in a focused tab (client event "read"), and a reader
who comes back to unread messages finds a "New messages" divider above the first
one, the view opened there. carol talks through a Socket.IO client."""

import pytest

from tests.support.browser import (
    enter_room,
    lines,
    sent_events,
    tap_the_wire,
    wait_for,
    wait_line,
)
from tests.support.server import wait_until

pytestmark = pytest.mark.browser

TALL = "\n".join(f"line {k}" for k in range(6))


def read_mark(server, username, room):
    """The user's read mark in ``room`` as the database holds it (None: none)."""
    out = server.manage(
        "shell",
        "-c",
        "from chat.models import ReadMark; "
        "print(ReadMark.objects.filter(user__username="
        f"{username!r}, room__slug={room!r}).values_list('last_read_id', flat=True).first())",
    )
    value = out.strip().splitlines()[-1]
    return None if value == "None" else int(value)


def reads(driver, window="window"):
    """The ids of the "read" events the page sent."""
    return [payload["id"] for payload in sent_events(driver, "read", window)]


def divider(driver):
    """The unread divider: its text, the message under it, and where it is in the box."""
    return driver.execute_script(
        """
        var $divider = $("#messages .unread-divider");
        if (!$divider.length) { return null; }
        var box = document.getElementById("messages").getBoundingClientRect();
        var top = $divider[0].getBoundingClientRect().top;
        return {text: $divider.text(),
                next: $divider.nextAll(".message").first().find(".text").text(),
                fromTop: top - box.top, fromBottom: box.bottom - top};
        """
    )


def from_bottom(driver):
    return driver.execute_script(
        "var b = document.getElementById('messages');"
        "return b.scrollHeight - b.scrollTop - b.clientHeight;"
    )


def to_bottom(driver):
    driver.execute_script(
        "var b = document.getElementById('messages'); b.scrollTop = b.scrollHeight;"
        "b.dispatchEvent(new Event('scroll'));"
    )


def read_then_leave(server, bob, carol, room, texts):
    """carol says ``texts`` while bob reads them; once his mark is on the last one,
    bob goes to the room list. Returns their ids."""
    said = [carol.send(text)["id"] for text in texts]
    wait_for(bob, lambda d: said[-1] in reads(d), message="bob read what he saw")
    wait_until(lambda: read_mark(server, "bob", room) == said[-1], message="mark")
    bob.get(server.url + "/chat/")
    return said


def test_coming_back_to_unread_messages_opens_at_a_divider(
    server, browsers, fresh_room, carol_talks
):
    bob = enter_room(tap_the_wire(browsers.new()), server.url, "bob", fresh_room)
    seen = read_then_leave(
        server, bob, carol_talks, fresh_room, [f"seen {n}\n{TALL}" for n in range(3)]
    )
    unread = [carol_talks.send(f"unread {n}\n{TALL}")["id"] for n in range(12)]

    bob.get(f"{server.url}/chat/{fresh_room}/")
    wait_line(bob, "bob has joined the chat")
    # The 3 read before for context, then every unread one, the divider between.
    texts = [line.split("\n")[0] for line in lines(bob) if line.startswith("carol: ")]
    assert texts == [f"carol: seen {n}" for n in range(3)] + [
        f"carol: unread {n}" for n in range(12)
    ]
    shown = divider(bob)
    assert shown["text"] == "New messages"
    assert shown["next"].startswith("unread 0")
    # The view opened at the divider, not at the bottom.
    assert 0 <= shown["fromTop"] <= 40
    assert from_bottom(bob) > 100
    # The newest is not in view: nothing is marked read yet.
    assert unread[-1] not in reads(bob)
    assert read_mark(server, "bob", fresh_room) == seen[-1]

    to_bottom(bob)  # bob reads down to the newest
    wait_for(bob, lambda d: unread[-1] in reads(d), message="read sent")
    wait_until(lambda: read_mark(server, "bob", fresh_room) == unread[-1], message="mark moved")
    assert divider(bob)["text"] == "New messages"  # it stays while he is in the room


def test_with_nothing_unread_the_join_history_is_the_last_three(
    server, browsers, fresh_room, carol_talks
):
    bob = enter_room(tap_the_wire(browsers.new()), server.url, "bob", fresh_room)
    read_then_leave(server, bob, carol_talks, fresh_room, [f"said {n}" for n in range(5)])
    bob.get(f"{server.url}/chat/{fresh_room}/")
    wait_line(bob, "bob has joined the chat")
    assert lines(bob) == [f"carol: said {n}" for n in (2, 3, 4)] + ["bob has joined the chat"]
    assert divider(bob) is None


def test_the_room_is_read_only_while_the_newest_is_seen_in_a_focused_tab(
    server, browsers, fresh_room, carol_talks
):
    bob = enter_room(tap_the_wire(browsers.new()), server.url, "bob", fresh_room)
    room_tab = bob.current_window_handle
    first = carol_talks.send("seen at once")["id"]
    wait_for(bob, lambda d: first in reads(d), message="read while in view")
    # Each new message in view is read again.
    second = carol_talks.send("and this one")["id"]
    wait_for(bob, lambda d: second in reads(d), message="the newest read again")

    # Another tab in front (opened by the room's, which can still be looked at).
    bob.execute_script("window.open(arguments[0], '_blank')", server.url + "/chat/")
    other = next(h for h in bob.window_handles if h != room_tab)
    bob.switch_to.window(other)
    bob.execute_cdp_cmd("Page.bringToFront", {})
    wait_for(bob, lambda d: d.execute_script("return document.readyState") == "complete")
    hidden = carol_talks.send("while the room's tab is hidden")["id"]
    wait_for(
        bob,
        lambda d: (
            d.execute_script(
                "return $(window.opener.document).find('#messages .message').last().attr('data-id')"
            )
            == str(hidden)
        ),
        message="shown in the hidden tab",
    )
    assert bob.execute_script("return window.opener.document.hidden") is True
    assert hidden not in reads(bob, "window.opener")

    bob.switch_to.window(room_tab)
    bob.execute_cdp_cmd("Page.bringToFront", {})
    wait_for(bob, lambda d: hidden in reads(d), message="read once the tab is shown")
    wait_until(lambda: read_mark(server, "bob", fresh_room) == hidden, message="mark")
