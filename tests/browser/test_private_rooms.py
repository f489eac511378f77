"""Private rooms and direct messages (issue 22), in real browsers against the
real server: a direct conversation opened from a name, a private room made
with the room list's form, its members added and removed from its page, and
notes to self. Each test has users of its own, so that its conversations are
new to them."""

import time
import uuid

import pytest

# axe-core, as the accessibility tests run it (axe_source: their fixture).
from tests.browser.test_accessibility import axe_source, serious_violations  # noqa: F401
from tests.support.browser import (
    click,
    lines,
    log_in,
    say,
    tap_the_wire,
    unique,
    wait_for,
    wait_line,
    wait_ready,
)
from tests.support.server import DEMO_PASSWORD, login

pytestmark = pytest.mark.browser

REMOVED = "You are no longer a member of this room."


def new_users(server, *names):
    """Users of this test alone (``alice_1a2b3c``...), who log in with the demo password."""
    tag = uuid.uuid4().hex[:6]
    users = [f"{name}_{tag}" for name in names]
    server.create_users(users, DEMO_PASSWORD)
    return users


def open_list(driver, server_url, username):
    log_in(driver, server_url, username)
    driver.get(server_url + "/chat/")
    return driver


def list_items(driver, list_id="rooms"):
    """The items of ``#rooms`` or ``#dms``: [(room slug, name, unread count or None)]."""
    return driver.execute_script(
        """
        return $("#" + arguments[0]).children(".room-item").map(function () {
          var $unread = $(this).find(".unread-count");
          return [[this.getAttribute("data-room"), $(this).children("a").first().text(),
                   $unread.length ? Number($unread.text()) : null]];
        }).get();
        """,
        list_id,
    )


def slugs(driver, list_id="rooms"):
    return [slug for slug, _name, _unread in list_items(driver, list_id)]


def submit_and_come_back(driver, button):
    """Press a form's button and wait for the room page it leads back to (a new page)."""
    driver.execute_script("window.d09OldPage = true")
    click(driver, button)
    wait_for(
        driver,
        lambda d: d.execute_script("return !window.d09OldPage && window.chatReady === true"),
        message="the room page again",
    )


def status(driver):
    return driver.find_element("id", "connection-status").text


def test_a_direct_conversation_opened_from_a_name(server, browsers, clients, fresh_room):
    alice, bob, carol = new_users(server, "alice", "bob", "carol")
    # bob's room list, as it would be had it missed room_added (sent when alice
    # opens the conversation): alice's first message alone adds it, unread.
    bob_list = open_list(tap_the_wire(browsers.new()), server.url, bob)
    wait_for(bob_list, lambda d: d.find_element("id", "no-dms").is_displayed())
    bob_list.execute_script("window.d09Drop = '\"room_added\"'")
    bob_in_room = clients.open(login(server.url, bob, DEMO_PASSWORD), fresh_room)

    page = browsers.new()
    log_in(page, server.url, alice)
    page.get(f"{server.url}/chat/{fresh_room}/")
    wait_ready(page)
    # Another author's name in the timeline opens the conversation with them...
    bob_in_room.send(unique("bob in the open room"))
    author = wait_for(page, lambda d: d.find_elements("css selector", "#messages a.author"))[0]
    assert author.text == bob
    assert author.get_attribute("aria-label") == f"Message {bob}"
    assert author.get_attribute("href") == f"{server.url}/chat/dm/{bob}/"
    # ...and so does each name of the user list (the item still reads as the name).
    link = wait_for(
        page,
        lambda d: d.find_elements("css selector", f"#users a[aria-label='Message {bob}']"),
        message="bob's name in the user list",
    )[0]
    assert bob in [
        li.get_attribute("textContent") for li in page.find_elements("css selector", "#users li")
    ]
    link.send_keys("\n")  # from the keyboard
    wait_ready(page, message="the direct conversation")
    assert page.current_url == f"{server.url}/chat/dm/{bob}/"
    assert page.find_element("id", "room-name").text == bob
    assert page.find_element("id", "chat").get_attribute("data-kind") == "direct"
    slug = page.find_element("id", "chat").get_attribute("data-room")

    first = unique("hello bob")
    say(page, first)
    wait_for(
        bob_list,
        lambda d: list_items(d, "dms") == [[slug, alice, 1]],
        message="the conversation in bob's list, 1 unread",
    )
    assert not bob_list.find_element("id", "no-dms").is_displayed()

    # bob answers from his list.
    click(bob_list, bob_list.find_element("css selector", "#dms a.dm-link"))
    wait_ready(bob_list, message="bob in the conversation")
    assert bob_list.current_url == f"{server.url}/chat/dm/{alice}/"
    assert bob_list.find_element("id", "room-name").text == alice
    wait_line(bob_list, f"{alice}: {first}")
    answer = unique("hi alice")
    say(bob_list, answer)
    wait_line(page, f"{bob}: {answer}")

    # carol: not hers, not in her list, and its page does not exist for her.
    as_carol = login(server.url, carol, DEMO_PASSWORD).session
    assert as_carol.get(f"{server.url}/chat/{slug}/", timeout=5).status_code == 404
    her_list = as_carol.get(f"{server.url}/chat/", timeout=5).text
    assert slug not in her_list and first not in her_list


def test_a_private_room_and_its_members(server, browsers, axe_source):  # noqa: F811
    alice, bob, carol = new_users(server, "alice", "bob", "carol")
    carol_list = open_list(browsers.new(), server.url, carol)
    wait_for(
        carol_list, lambda d: d.find_elements("css selector", "#rooms .room-online:not([hidden])")
    )

    # alice makes it with the room list's form (an ordinary form).
    creator = open_list(browsers.new(), server.url, alice)
    name = unique("Secret plans")
    form = creator.find_element("id", "new-room")
    form.find_element("name", "name").send_keys(name)
    click(creator, form.find_element("css selector", "input[name=kind][value=private]"))
    form.find_element("name", "members").send_keys(bob)
    click(creator, form.find_element("css selector", "[type=submit]"))
    wait_ready(creator, message="alice in her new room")
    slug = creator.find_element("id", "chat").get_attribute("data-room")
    assert creator.find_element("id", "room-name").text == name
    assert creator.find_element("id", "chat").get_attribute("data-kind") == "private"

    # bob finds it in his list and goes in; his list stays open in a tab of its own.
    bob_page = open_list(browsers.new(), server.url, bob)
    assert [slug, name, None] in list_items(bob_page, "rooms")
    list_tab = bob_page.current_window_handle
    bob_page.switch_to.new_window("tab")
    bob_page.get(f"{server.url}/chat/{slug}/")
    wait_ready(bob_page, message="bob in the private room")
    room_tab = bob_page.current_window_handle

    hello, answer = unique("only for bob"), unique("only for alice")
    say(creator, hello)
    wait_line(bob_page, f"{alice}: {hello}")
    say(bob_page, answer)
    wait_line(creator, f"{bob}: {answer}")
    # Names as links, the members panel: nothing serious for axe-core.
    assert serious_violations(creator, axe_source) == []

    # carol does not see it, and its page does not exist for her.
    assert slug not in slugs(carol_list)
    as_carol = login(server.url, carol, DEMO_PASSWORD).session
    assert as_carol.get(f"{server.url}/chat/{slug}/", timeout=5).status_code == 404

    # alice adds carol: carol's open list shows it, the room says so.
    adding = creator.find_element("id", "member-add")
    adding.find_element("name", "username").send_keys(carol)
    submit_and_come_back(creator, adding.find_element("css selector", "[type=submit]"))
    wait_for(
        carol_list,
        lambda d: [slug, name, None] in list_items(d),
        message="the room in carol's list",
    )
    assert (
        carol_list.find_element(
            "css selector", f"#rooms .room-item[data-room='{slug}'] .room-private"
        ).text
        == "private"
    )
    wait_line(bob_page, f"{carol} was added by {alice}")
    wait_for(
        bob_page,
        lambda d: (
            carol
            in [
                li.get_attribute("data-user")
                for li in d.find_elements("css selector", "#member-list li.member")
            ]
        ),
        message="carol in bob's member list",
    )
    say(bob_page, unique("welcome carol"))
    wait_for(carol_list, lambda d: [slug, name, 1] in list_items(d), message="1 unread for carol")

    # alice removes bob: his page says so at once, and his list drops the room.
    removing = creator.find_element(
        "css selector", f"#member-list li.member[data-user='{bob}'] button"
    )
    assert removing.get_attribute("aria-label") == f"Remove {bob}"
    removed = time.monotonic()
    click(creator, removing)
    wait_for(bob_page, lambda d: REMOVED in status(d), timeout=2, message="bob told")
    assert time.monotonic() - removed < 2
    to_list = bob_page.find_element("css selector", "#connection-status a")
    assert to_list.get_attribute("href") == f"{server.url}/chat/"
    assert "Log in again" not in status(bob_page)
    assert bob_page.execute_script("return window.chatReady") is False
    assert bob_page.find_element("id", "message-input").get_attribute("disabled")
    bob_page.switch_to.window(list_tab)
    wait_for(bob_page, lambda d: slug not in slugs(d), message="gone from bob's list")
    # The page stays ended: no reconnection brings the room back.
    bob_page.switch_to.window(room_tab)
    assert REMOVED in status(bob_page)
    assert bob_page.execute_script("return window.chatReady") is False


def test_notes_to_self_and_the_newest_conversation_first(
    server,
    browsers,
    clients,
    fresh_room,
    axe_source,  # noqa: F811
):
    alice, bob = new_users(server, "alice", "bob")
    page = browsers.new()
    log_in(page, server.url, alice)
    page.get(f"{server.url}/chat/{fresh_room}/")
    wait_ready(page)
    # Her own name in the user list: her notes.
    mine = wait_for(
        page, lambda d: d.find_elements("css selector", "#users a[aria-label='Your notes']")
    )
    click(page, mine[0])
    wait_ready(page, message="notes to self")
    assert page.current_url == f"{server.url}/chat/dm/{alice}/"
    assert page.find_element("id", "room-name").text == alice
    note = unique("remember the milk")
    say(page, note)
    assert f"{alice}: {note}" in lines(page)
    notes = page.find_element("id", "chat").get_attribute("data-room")

    # A conversation with bob, newer: first in her list.
    page.get(f"{server.url}/chat/dm/{bob}/")
    wait_ready(page, message="the conversation with bob")
    say(page, unique("hi bob"))
    with_bob = page.find_element("id", "chat").get_attribute("data-room")
    page.get(server.url + "/chat/")
    wait_for(page, lambda d: d.find_elements("css selector", "#dms .room-online:not([hidden])"))
    assert list_items(page, "dms") == [[with_bob, bob, None], [notes, alice, None]]

    # A new note (from another device) puts her notes first again, live.
    clients.open(login(server.url, alice, DEMO_PASSWORD), notes).send(unique("and eggs"))
    wait_for(
        page,
        lambda d: slugs(d, "dms") == [notes, with_bob],
        message="the notes first",
    )
    assert list_items(page, "dms") == [[notes, alice, None], [with_bob, bob, None]]
    assert serious_violations(page, axe_source) == []
