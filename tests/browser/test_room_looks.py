"""Screenshots of a room, desktop and phone, light and dark, and of the other
pages: artefacts of the run (tests.support.browser.ARTIFACTS_DIR, in the system's
temporary folder), for people to look at; never committed."""

from datetime import UTC, datetime, timedelta

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from tests.support.browser import (
    enter_room,
    make_staff,
    post_messages,
    save_screenshot,
    say,
    set_color_scheme,
    set_phone,
    set_theme,
    submit,
    tap_the_wire,
    type_message,
    wait_for,
    wait_line,
)

pytestmark = pytest.mark.browser


def test_screenshots_of_a_room(server, browsers, fresh_room):
    now = datetime.now(UTC)
    day = timedelta(days=1)
    post_messages(
        server,
        fresh_room,
        [
            ("carol", "Is the release notes draft somewhere?", now - day - timedelta(hours=2)),
            ("bob", "In the wiki, under Releases.\nI'll tidy it tomorrow.", now - day),
            ("carol", "Morning all ☕", now - timedelta(minutes=30)),
        ],
    )
    alice = enter_room(browsers.new(), server.url, "alice", fresh_room)
    bob = enter_room(browsers.new(), server.url, "bob", fresh_room)
    wait_line(alice, "bob has joined the chat")
    say(alice, "Morning! The build is green again.")
    say(alice, "The flaky test was a timezone thing: it only failed after 23:00 UTC.")
    say(bob, "Nice catch. Shipping this afternoon then?")
    say(alice, "Yes, after lunch. Checklist:\n1. tag\n2. release notes\n3. announce")
    wait_line(bob, "alice: Yes, after lunch. Checklist:\n1. tag\n2. release notes\n3. announce")

    shots = []
    for scheme in ("light", "dark"):
        set_theme(bob, scheme)
        for device in ("desktop", "phone"):
            set_phone(bob, device == "phone")
            wait_for(
                bob,
                lambda d: d.execute_script(
                    "var b = document.getElementById('messages');"
                    "return b.scrollHeight - b.scrollTop - b.clientHeight < 2"
                ),
            )
            shots.append(save_screenshot(bob, f"room-{device}-{scheme}"))
    assert all(path.stat().st_size > 10_000 for path in shots)


def test_screenshots_of_the_other_pages(server, browser):
    shots = []
    for scheme in ("light", "dark"):
        set_color_scheme(browser, scheme)
        browser.get(server.url + "/account")
        shots.append(save_screenshot(browser, f"account-{scheme}"))
        browser.get(server.url + "/chat/")
        shots.append(save_screenshot(browser, f"rooms-{scheme}"))
    assert all(path.stat().st_size > 10_000 for path in shots)


def test_screenshots_of_unread_pending_and_failed_lines(server, browsers, fresh_room, carol_talks):
    """A returning reader's "New messages" divider, a line still pending (its ack
    and broadcast are dropped on the way) and a refused one, with Retry and Discard."""
    bob = enter_room(tap_the_wire(browsers.new()), server.url, "bob", fresh_room)
    carol_talks.send("Did anyone look at the flaky test?")
    wait_line(bob, "carol: Did anyone look at the flaky test?")
    bob.get(server.url + "/chat/")
    carol_talks.send("It fails after 23:00 UTC only.")
    carol_talks.send("A time zone thing, I think.")
    wait_for(bob, lambda d: d.find_elements("css selector", ".room-item .unread-count"))
    shots = [save_screenshot(bob, "rooms-with-counts")]
    bob.get(f"{server.url}/chat/{fresh_room}/")
    wait_line(bob, "bob has joined the chat")
    submit(bob, "A paste far too long to send. " * 70)
    wait_for(bob, lambda d: d.find_elements("css selector", ".message.failed"))
    set_theme(bob, "dark")
    shots.append(save_screenshot(bob, "room-failed-dark"))
    bob.find_element("css selector", ".message.failed button.discard").click()
    # Acks and broadcasts of messages are lost from now on: the next line stays pending.
    bob.execute_script("window.d09Drop = arguments[0]", r'^4(3|2\["message")')
    type_message(bob, "Looking at it now.").send_keys(Keys.ENTER)
    assert bob.find_elements("css selector", ".message.pending")
    assert bob.find_elements("css selector", ".unread-divider")
    for scheme in ("light", "dark"):
        set_theme(bob, scheme)
        shots.append(save_screenshot(bob, f"room-unread-and-pending-{scheme}"))
    assert all(path.stat().st_size > 10_000 for path in shots)


def test_screenshots_of_a_conversation(server, browsers, fresh_room, carol_talks):
    """Through a moderator's eyes: an edited line, a deleted one, a mention of the
    reader, someone typing, a line's controls, an edit under way, the "@" list
    and the moderation panel."""
    moderator = make_staff(server, "mod")
    carol_talks.post("Release notes are in the wiki.")
    gone = carol_talks.post("(pasted the wrong link, sorry)")
    mod = enter_room(browsers.new(), server.url, moderator, fresh_room)
    say(mod, "Thanks! I'll read them after lunch.")
    say(mod, "Can someone check the changelog tonight?")
    assert carol_talks.call({"id": gone}, event="delete")["ok"]
    carol_talks.post("@mod the changelog is done, have a look")
    say(mod, "Shipping at 3.")
    line = mod.find_elements("css selector", ".message.has-actions")[-1]
    ActionChains(mod).move_to_element(line).click().perform()
    line.find_element("css selector", ".edit-message").click()
    mod.switch_to.active_element.send_keys(Keys.END, " Or 4.", Keys.ENTER)
    wait_for(mod, lambda d: d.find_elements("css selector", ".message .edited"))
    editing = mod.find_elements("css selector", ".message[data-user=mod]")[-2]
    ActionChains(mod).move_to_element(editing).click().perform()
    editing.find_element("css selector", ".edit-message").click()
    assert carol_talks.call({"typing": True}, event="typing")["ok"]
    wait_for(mod, lambda d: d.find_element("id", "typing").text == "carol is typing…")
    mod.find_element("css selector", "#users .moderate-user").click()
    ActionChains(mod).move_to_element(
        mod.find_elements("css selector", ".message")[0]
    ).click().perform()
    type_message(mod, "Thanks @")
    wait_for(mod, lambda d: d.find_element("id", "mention-list").is_displayed())

    shots = []
    for scheme in ("light", "dark"):
        set_theme(mod, scheme)
        shots.append(save_screenshot(mod, f"room-conversation-{scheme}"))
    set_phone(mod)
    shots.append(save_screenshot(mod, "room-conversation-phone-dark"))
    assert all(path.stat().st_size > 10_000 for path in shots)
