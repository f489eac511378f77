"""The composer: a textarea where Enter sends and Shift+Enter starts a new line;
it grows up to five lines; line breaks reach everyone and show."""

import pytest
from selenium.webdriver.common.keys import Keys

from tests.support.browser import enter_room, lines, type_message, wait_for, wait_line

pytestmark = pytest.mark.browser


def input_height(driver):
    return driver.execute_script("return document.getElementById('message-input').offsetHeight")


def test_enter_sends_and_shift_enter_starts_a_new_line(server, browsers, fresh_room):
    alice = enter_room(browsers.new(), server.url, "alice", fresh_room)
    bob = enter_room(browsers.new(), server.url, "bob", fresh_room)
    assert alice.find_element("id", "message-input").tag_name == "textarea"

    box = type_message(alice, "first line\nsecond line\n\n  indented third")
    assert box.get_attribute("value") == "first line\nsecond line\n\n  indented third"
    box.send_keys(Keys.ENTER)
    text = "first line\nsecond line\n\n  indented third"
    wait_line(bob, f"alice: {text}")
    # One message: had Shift+Enter sent the first line, it would have come first.
    assert [line for line in lines(bob) if line.startswith("alice:")] == [f"alice: {text}"]
    wait_for(alice, lambda d: d.find_element("id", "message-input").get_attribute("value") == "")

    # The line breaks show (white-space: pre-wrap), on both pages.
    for driver in (alice, bob):
        shown = driver.find_element("css selector", "#messages .message:last-child .text")
        assert driver.execute_script("return arguments[0].innerText", shown) == text
        assert shown.value_of_css_property("white-space") == "pre-wrap"
        line_height = float(shown.value_of_css_property("line-height").removesuffix("px"))
        assert shown.size["height"] >= 4 * line_height - 1


def test_the_composer_grows_up_to_five_lines(server, browser, fresh_room):
    enter_room(browser, server.url, "alice", fresh_room)
    one_line = input_height(browser)
    heights = []
    box = browser.find_element("id", "message-input")
    for number in range(1, 8):
        if number > 1:
            box.send_keys(Keys.SHIFT, Keys.ENTER)
        box.send_keys(f"line {number}")
        heights.append(input_height(browser))
    assert heights[0] == one_line
    assert heights[0] < heights[1] < heights[2] < heights[3] < heights[4]  # grows to 5 lines
    assert heights[4] == heights[5] == heights[6]  # then stops and scrolls
    assert (
        browser.execute_script(
            "var box = document.getElementById('message-input');"
            "return box.scrollHeight > box.clientHeight && getComputedStyle(box).overflowY;"
        )
        == "auto"
    )

    box.send_keys(Keys.ENTER)
    wait_line(browser, "alice: " + "\n".join(f"line {n}" for n in range(1, 8)))
    wait_for(browser, lambda d: input_height(d) == one_line, message="back to one line")
