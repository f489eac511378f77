"""A room on a 390 x 844 phone: box and composer on screen together, the composer
above the on-screen keyboard, the user list behind a "N online" button."""

import pytest

from tests.support.browser import enter_room, set_phone, users, wait_for, wait_line

pytestmark = pytest.mark.browser

LAYOUT = """
function box(id) {
  var r = document.getElementById(id).getBoundingClientRect();
  return {top: r.top, bottom: r.bottom, height: r.height};
}
var log = document.getElementById("messages");
return {viewport: window.innerHeight, page: document.scrollingElement.scrollHeight,
        scrolled: window.scrollY, messages: box("messages"), input: box("message-input"),
        send: box("send-button"),
        fromBottom: log.scrollHeight - log.scrollTop - log.clientHeight};
"""


def layout(driver):
    return driver.execute_script(LAYOUT)


def phone_room(browsers, server, user, room):
    driver = browsers.new()
    set_phone(driver)
    return enter_room(driver, server.url, user, room)


def test_the_room_fits_a_phone_screen(server, browsers, fresh_room, carol_talks):
    alice = phone_room(browsers, server, "alice", fresh_room)
    seen = layout(alice)
    assert seen["viewport"] == 844
    assert seen["page"] <= seen["viewport"]  # nothing to scroll on the page itself
    assert 0 <= seen["messages"]["top"] < seen["messages"]["bottom"] <= seen["input"]["top"]
    assert seen["input"]["bottom"] <= seen["viewport"]
    assert seen["send"]["bottom"] <= seen["viewport"]
    # The box is what the header and the composer leave: most of the screen.
    assert seen["messages"]["height"] > 0.6 * seen["viewport"]

    # It keeps its size, and the newest line, however much is said.
    for number in range(40):
        carol_talks.send(f"line {number} from carol")
    wait_line(alice, "carol: line 39 from carol")
    after = layout(alice)
    assert after["messages"] == seen["messages"]
    assert after["page"] <= after["viewport"]
    assert after["fromBottom"] <= 1


def test_the_composer_stays_above_the_on_screen_keyboard(server, browsers, fresh_room):
    alice = phone_room(browsers, server, "alice", fresh_room)
    alice.find_element("id", "message-input").click()
    # Headless Chromium has no on-screen keyboard: open one as the browser
    # reports it, by shrinking the visual viewport to what the keyboard leaves.
    alice.execute_script(
        "Object.defineProperty(window.visualViewport, 'height', "
        "  {configurable: true, get: function () { return 470; }});"
        "window.visualViewport.dispatchEvent(new Event('resize'));"
    )
    wait_for(alice, lambda d: layout(d)["input"]["bottom"] <= 470, message="composer moved up")
    seen = layout(alice)
    assert seen["scrolled"] == 0
    assert 0 <= seen["messages"]["top"] < seen["messages"]["bottom"] <= seen["input"]["top"]
    assert seen["messages"]["height"] > 200
    assert seen["input"]["bottom"] > 400  # the composer sits just above the keyboard
    wait_for(alice, lambda d: layout(d)["fromBottom"] <= 1, message="newest line still shown")


def test_the_user_list_collapses_to_a_count_on_phones(server, browsers, fresh_room):
    alice = phone_room(browsers, server, "alice", fresh_room)
    enter_room(browsers.new(), server.url, "bob", fresh_room)
    toggle = alice.find_element("id", "users-toggle")
    wait_for(alice, lambda d: toggle.text == "2 online", message="count of the users")
    assert not alice.find_element("id", "users").is_displayed()
    assert toggle.get_attribute("aria-expanded") == "false"

    toggle.click()
    wait_for(alice, lambda d: d.find_element("id", "users").is_displayed())
    assert [li.text for li in alice.find_elements("css selector", "#users li")] == ["alice", "bob"]
    assert toggle.get_attribute("aria-expanded") == "true"

    toggle.click()
    wait_for(alice, lambda d: not d.find_element("id", "users").is_displayed())
    assert users(alice) == ["alice", "bob"]  # still kept up to date while closed

    # On a wide screen the list is always shown and there is no button.
    set_phone(alice, False)
    wait_for(alice, lambda d: d.find_element("id", "users").is_displayed())
    assert not toggle.is_displayed()
