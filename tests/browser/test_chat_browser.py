"""The chat pages in real headless Chromium browsers, several users at once."""

import pytest

from tests.support.browser import enter_room, lines, say, unique, users, wait_for, wait_line

pytestmark = pytest.mark.browser


def test_rooms_list_comes_from_the_database(server, browser, fresh_room):
    browser.get(server.url + "/chat/")
    names = [a.text for a in browser.find_elements("css selector", "a.room-link")]
    assert {"General", "Cats", "Random", f"Test room {fresh_room}"} <= set(names)


def test_anonymous_visitors_are_sent_to_the_login_page(server, browser):
    browser.get(server.url + "/chat/general/")
    assert browser.current_url == server.url + "/account?next=/chat/general/"


def test_room_page_shows_the_room_name_and_links_back(server, browser):
    enter_room(browser, server.url, "alice", "cats")
    assert browser.find_element("id", "room-name").text == "Cats"
    assert browser.find_element("css selector", "a[href='/account']")


def test_two_users_chat_in_one_room_isolated_from_another(server, browsers, fresh_room):
    alice = enter_room(browsers.new(), server.url, "alice", fresh_room)
    wait_line(alice, "alice has joined the chat")
    bob = enter_room(browsers.new(), server.url, "bob", fresh_room)
    wait_line(bob, "bob has joined the chat")
    wait_line(alice, "bob has joined the chat")
    carol = enter_room(browsers.new(), server.url, "carol", "cats")

    first, second, third = unique("hello bob"), unique("hi alice"), unique("how are you")
    say(alice, first)
    wait_line(bob, f"alice: {first}")
    say(bob, second)
    wait_line(alice, f"bob: {second}")
    say(alice, third)
    wait_line(bob, f"alice: {third}")

    expected = [f"alice: {first}", f"bob: {second}", f"alice: {third}"]
    for driver in (alice, bob):
        shown = [line for line in lines(driver) if ": " in line]
        assert shown[-3:] == expected
    # Messages come after the join notices, in the order they were sent.
    assert lines(bob).index("bob has joined the chat") < lines(bob).index(f"alice: {first}")
    assert not any(first in line or second in line for line in lines(carol))


def test_late_joiner_sees_exactly_the_last_three_messages(server, browsers, fresh_room):
    alice = enter_room(browsers.new(), server.url, "alice", fresh_room)
    sent = [unique(f"message {i}") for i in range(5)]
    for text in sent:
        say(alice, text)
    bob = enter_room(browsers.new(), server.url, "bob", fresh_room)
    wait_line(bob, "bob has joined the chat")
    assert lines(bob) == [f"alice: {text}" for text in sent[-3:]] + ["bob has joined the chat"]


def test_user_list_follows_joins_and_leaves(server, browsers, fresh_room):
    alice = enter_room(browsers.new(), server.url, "alice", fresh_room)
    wait_for(alice, lambda d: users(d) == ["alice"], message="alice alone")
    bob_browser = browsers.new()
    enter_room(bob_browser, server.url, "bob", fresh_room)
    wait_for(alice, lambda d: users(d) == ["alice", "bob"], message="bob listed")
    assert users(bob_browser) == ["alice", "bob"]

    say(alice, "before bob leaves")
    bob_browser.get(server.url + "/chat/")  # bob walks away from the room
    wait_line(alice, "bob has left the chat")
    wait_for(alice, lambda d: users(d) == ["alice"], message="bob unlisted")
    assert lines(alice)[-1] == "bob has left the chat"


def test_message_box_stays_scrolled_to_the_newest(server, browser, fresh_room):
    enter_room(browser, server.url, "alice", fresh_room)
    for i in range(25):
        say(browser, f"line {i} " + "to fill the box " * 3)
    geometry = browser.execute_script(
        """var box = document.getElementById("messages");
        return [box.scrollTop, box.clientHeight, box.scrollHeight,
                getComputedStyle(box).overflowY];"""
    )
    scroll_top, client_height, scroll_height, overflow = geometry
    assert scroll_height > client_height  # it did overflow...
    assert overflow == "auto"  # ...so a scrollbar shows
    assert abs(scroll_top + client_height - scroll_height) <= 1
    # The box keeps its fixed size however many messages arrive.
    assert client_height == browser.execute_script(
        "return document.getElementById('messages').clientHeight"
    )


def test_html_in_messages_is_shown_as_text(server, browsers, fresh_room):
    alice = enter_room(browsers.new(), server.url, "alice", fresh_room)
    bob = enter_room(browsers.new(), server.url, "bob", fresh_room)
    payload = "<img src=x onerror=window.pwned=1> <b>bold</b>"
    say(alice, payload)
    wait_line(bob, f"alice: {payload}")
    for driver in (alice, bob):
        assert driver.find_elements("css selector", "#messages img, #messages b") == []
        assert driver.execute_script("return window.pwned") is None


def test_refused_message_shows_the_error_and_keeps_the_text(server, browser, fresh_room):
    enter_room(browser, server.url, "alice", fresh_room)
    # Only control characters: the browser sends it, the server refuses it.
    browser.execute_script("$('#message-input').val('\\u0007\\u0007')")
    browser.find_element("id", "send-button").click()
    error = wait_for(browser, lambda d: d.find_element("id", "message-error").text)
    assert "empty" in error
    # The text stays on the page, in its line, marked as not sent (tests/browser/test_outbox.py).
    failed = browser.find_element("css selector", "#messages .message.failed")
    assert browser.execute_script("return $(arguments[0]).find('.text').text()", failed) == (
        "\u0007\u0007"
    )
    assert "Not sent: The message is empty." in failed.text


def test_unicode_and_long_text_round_trip(server, browsers, fresh_room):
    alice = enter_room(browsers.new(), server.url, "alice", fresh_room)
    bob = enter_room(browsers.new(), server.url, "bob", fresh_room)
    text = "é 漢字 🐱 שלום \"quoted\" 'single' " + "long " * 300
    alice.execute_script("$('#message-input').val(arguments[0])", text)
    alice.find_element("id", "send-button").click()
    wait_line(bob, f"alice: {text.strip()}")


def test_page_recovers_after_a_server_restart(servers, browsers):
    own_server = servers.start()
    alice = enter_room(browsers.new(), own_server.url, "alice", "general")
    bob = enter_room(browsers.new(), own_server.url, "bob", "general")
    say(alice, "before the restart")
    wait_line(bob, "alice: before the restart")

    own_server.stop()
    wait_for(
        bob,
        lambda d: d.find_element("id", "connection-status").is_displayed(),
        message="reconnecting shown",
    )
    assert "reconnecting" in bob.find_element("id", "connection-status").text
    own_server.start()

    for driver in (alice, bob):
        wait_for(
            driver,
            lambda d: d.execute_script("return window.chatReady === true"),
            timeout=20,
            message="reconnected",
        )
    say(alice, "after the restart")
    wait_line(bob, "alice: after the restart")
    for driver in (alice, bob):
        assert lines(driver).count("alice: before the restart") == 1
        assert not driver.find_element("id", "connection-status").is_displayed()


def test_logout_in_another_tab_ends_the_chat_and_says_why(server, browser):
    enter_room(browser, server.url, "carol", "random")
    room_tab = browser.current_window_handle
    browser.switch_to.new_window("tab")
    browser.get(server.url + "/account")
    browser.find_element("id", "logout-button").click()
    wait_for(browser, lambda d: d.find_element("id", "login-form").is_displayed())
    browser.switch_to.window(room_tab)
    status = wait_for(
        browser,
        lambda d: (
            d.find_element("id", "connection-status").is_displayed()
            and d.find_element("id", "connection-status").text
        ),
        message="the room page says the session ended",
    )
    assert "You logged out." in status
    assert (
        browser.find_element("link text", "Log in again")
        .get_attribute("href")
        .startswith(server.url + "/account?next=")
    )
    assert browser.find_element("id", "message-input").get_attribute("disabled")
    assert browser.execute_script("return window.chatReady") is False


def test_rate_limited_message_shows_why_and_goes_by_itself(servers, browser):
    """Too fast: the line stays, pending, saying why, and is sent by itself once
    the limit allows (tests/browser/test_outbox.py has the order and the ids)."""
    tight = servers.start(MESSAGE_RATE_BURST="2", MESSAGE_RATE_PER_MINUTE="20")
    enter_room(browser, tight.url, "bob", "general")
    say(browser, "one")
    say(browser, "two")
    browser.find_element("id", "message-input").send_keys("three")
    browser.find_element("id", "send-button").click()
    # The line is drawn again when the refusal comes: look it up at every poll.
    wait_for(
        browser,
        lambda d: any(
            "too fast" in state.text
            for state in d.find_elements(
                "css selector", "#messages .message.pending .message-state"
            )
        ),
        message="why it waits",
    )
    pending = browser.find_element("css selector", "#messages .message.pending")
    assert pending.find_element("css selector", ".text").text == "three"
    assert not browser.find_elements("css selector", "#messages .message.failed")
    wait_for(
        browser,
        lambda d: not d.find_elements("css selector", "#messages .message.pending"),
        timeout=20,
        message="sent by itself",
    )
    assert lines(browser)[-1] == "bob: three"
