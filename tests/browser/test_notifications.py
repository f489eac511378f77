"""Notifications in the page (issue 23), in real Chromium against the real
server: notification permission granted (or denied) through DevTools, the
reader in another room; a mention makes a desktop notification with the right
title and body, a plain message under "mentions" none, a click opens the room
at the message; the level control on the room header, the same in every tab,
and the room list shows a muted room."""

import uuid

import pytest
from selenium.webdriver.common.keys import Keys

from tests.support.browser import click, enter_room, log_in, wait_for, wait_ready
from tests.support.push_service import vapid_pair
from tests.support.server import DEMO_PASSWORD, login
from tests.support.sio import connected

pytestmark = pytest.mark.browser

# Installed before any page script (DevTools): every notification the page
# makes is kept in window.d09Notifications; the page still uses the real API
# (this is a subclass of the browser's own Notification).
WATCH_NOTIFICATIONS = """
(function () {
  var Real = window.Notification;
  if (!Real) { return; }
  window.d09Notifications = [];
  class Watched extends Real {
    constructor(title, options) {
      super(title, options);
      window.d09Notifications.push(
        { title: title, body: options && options.body, tag: options && options.tag, shown: this });
    }
  }
  window.Notification = Watched;
})();
"""


def new_user(server, name):
    username = f"{name}_{uuid.uuid4().hex[:6]}"
    server.create_users([username], DEMO_PASSWORD)
    return username


def permit_notifications(driver, server_url, setting="granted"):
    driver.execute_cdp_cmd(
        "Browser.setPermission",
        {"origin": server_url, "permission": {"name": "notifications"}, "setting": setting},
    )
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH_NOTIFICATIONS})
    # A headless window has no focus of its own: as a person's window would.
    driver.execute_cdp_cmd("Emulation.setFocusEmulationEnabled", {"enabled": True})


def notifications(driver):
    return driver.execute_script(
        "return (window.d09Notifications || []).map(function (n) {"
        " return {title: n.title, body: n.body, tag: n.tag}; });"
    )


def pressed(driver, selector):
    return driver.find_element("css selector", selector).get_attribute("aria-pressed")


def turn_desktop_on(driver):
    click(driver, driver.find_element("id", "notify-desktop"))
    wait_for(driver, lambda d: pressed(d, "#notify-desktop") == "true", message="desktop on")


def level_shown(driver):
    wait_for(
        driver,
        lambda d: d.find_elements("css selector", "#notify-level [aria-pressed=true]"),
        message="a level shown",
    )
    return driver.find_element("css selector", "#notify-level [aria-pressed=true]").get_attribute(
        "data-level"
    )


def test_a_mention_elsewhere_is_a_desktop_notification_that_opens_the_message(server, browser):
    reader = new_user(server, "bob")
    permit_notifications(browser, server.url)
    enter_room(browser, server.url, reader, "cats")
    assert notifications(browser) == []  # nothing asked or shown on load
    turn_desktop_on(browser)
    alice = connected(server.url, login(server.url, "alice", DEMO_PASSWORD), "random")
    try:
        alice.post("a plain line: no notification under mentions")
        said = alice.post(f"@{reader} the deploy is green " + "x" * 300)
        wait_for(browser, lambda d: notifications(d), message="a notification")
        shown = notifications(browser)
        assert len(shown) == 1, shown
        assert shown[0]["title"] == "alice in #Random"
        assert shown[0]["body"].startswith(f"@{reader} the deploy is green x")
        assert len(shown[0]["body"]) == 200  # cut short
        assert shown[0]["tag"] == "d09-room-random"
        browser.execute_script(
            "window.d09Notifications[0].shown.dispatchEvent(new Event('click'));"
        )
        wait_for(
            browser,
            lambda d: d.current_url.endswith(f"/chat/random/?at={said}"),
            message="the room opened",
        )
        wait_ready(browser)
        wait_for(
            browser,
            lambda d: d.find_elements("css selector", f".message.message-target[data-id='{said}']"),
            message="the message shown",
        )
        # Reading that room now: a new mention there makes no notification.
        before = len(notifications(browser))
        alice.post(f"@{reader} again, while you read")
        alice.post(f"@{reader} and once more")
        wait_for(
            browser,
            lambda d: "and once more" in d.find_element("id", "messages").text,
            message="the mention arrived",
        )
        assert len(notifications(browser)) == before
    finally:
        alice.close()


def test_the_level_is_set_by_keyboard_shown_in_every_tab_and_all_notifies(server, browsers):
    reader = new_user(server, "carol")
    first, second = browsers.new(), browsers.new()
    permit_notifications(first, server.url)
    enter_room(first, server.url, reader, "random")
    enter_room(second, server.url, reader, "random")
    assert level_shown(first) == "mentions" and level_shown(second) == "mentions"
    # Tab to the control and press it, as a keyboard user does.
    first.find_element("css selector", "#notify-level [data-level=all]").send_keys(Keys.ENTER)
    wait_for(first, lambda d: level_shown(d) == "all", message="all here")
    wait_for(second, lambda d: level_shown(d) == "all", message="all in the other tab")
    first.get(server.url + "/chat/cats/")
    wait_ready(first)
    turn_desktop_on(first)
    alice = connected(server.url, login(server.url, "alice", DEMO_PASSWORD), "random")
    try:
        alice.post("under all, any line")
        wait_for(first, lambda d: notifications(d), message="a notification")
        assert notifications(first)[0]["body"] == "under all, any line"
    finally:
        alice.close()
    # "Nothing": the room list shows the room muted, live and when loaded.
    second.get(server.url + "/chat/")
    wait_for(second, lambda d: d.find_elements("css selector", "#rooms .room-item"), message="list")
    assert not second.find_elements("css selector", "[data-room=random] .room-muted")
    first.get(server.url + "/chat/random/")
    wait_ready(first)
    click(first, first.find_element("css selector", "#notify-level [data-level=none]"))
    wait_for(
        second,
        lambda d: d.find_elements("css selector", "[data-room=random] .room-muted"),
        message="muted in the list",
    )
    assert second.find_element("css selector", "[data-room=random] .room-muted").text == "muted"
    second.refresh()
    wait_for(
        second,
        lambda d: d.find_elements("css selector", "[data-room=random] .room-muted"),
        message="muted in a new list",
    )


def test_a_refusal_is_explained_and_nothing_is_shown(server, browser):
    reader = new_user(server, "dave")
    permit_notifications(browser, server.url, setting="denied")
    log_in(browser, server.url, reader)
    browser.get(server.url + "/chat/cats/")
    wait_ready(browser)
    click(browser, browser.find_element("id", "notify-desktop"))
    wait_for(
        browser,
        lambda d: d.find_element("id", "notify-status").is_displayed(),
        message="the refusal explained",
    )
    assert "blocked" in browser.find_element("id", "notify-status").text
    assert pressed(browser, "#notify-desktop") == "false"


def registered_scope(driver):
    """The scope of the page's service worker registration, once there is one."""
    driver.execute_script(
        "navigator.serviceWorker.getRegistration('/').then(function (r) {"
        " window.d09Scope = r ? r.scope : null; });"
    )
    return driver.execute_script("return window.d09Scope;")


def test_push_registers_the_service_worker_for_the_whole_site(servers, browser):
    """The Push switch asks permission, registers /sw.js at scope "/" and
    subscribes with the server's key; Chromium here has no push service to
    subscribe with (no network), and the page says what went wrong."""
    public, private = vapid_pair()
    live = servers.start(VAPID_PUBLIC_KEY=public, VAPID_PRIVATE_KEY=private)
    live.create_users(["frank"], DEMO_PASSWORD)
    permit_notifications(browser, live.url)
    enter_room(browser, live.url, "frank", "cats")
    assert browser.find_element("id", "chat").get_attribute("data-vapid-key") == public
    click(browser, browser.find_element("id", "notify-push"))
    wait_for(browser, lambda d: registered_scope(d) == live.url + "/", message="sw at /")
    wait_for(
        browser,
        lambda d: d.find_element("id", "notify-status").text,
        timeout=40,
        message="told why push could not be turned on",
    )
    assert browser.find_element("id", "notify-status").text == (
        "Push could not be turned on: the browser's push service did not answer (try again later)"
    )
    assert pressed(browser, "#notify-push") == "false"


def test_without_vapid_keys_the_push_switch_says_push_is_off(servers, browser):
    live = servers.start(VAPID_PUBLIC_KEY="", VAPID_PRIVATE_KEY="")
    live.create_users(["grace"], DEMO_PASSWORD)
    permit_notifications(browser, live.url)
    enter_room(browser, live.url, "grace", "cats")
    click(browser, browser.find_element("id", "notify-push"))
    wait_for(
        browser,
        lambda d: (
            d.find_element("id", "notify-status").text
            == "Push notifications are off on this server (it has no VAPID keys)."
        ),
        message="push off explained",
    )
    assert pressed(browser, "#notify-push") == "false"
    assert registered_scope(browser) is None
