"""Scroll-back (issue 13): older messages load 50 at a time when the reader
scrolls to the top of the box or presses #load-older; the line the reader looks
at does not move while they are inserted above it; the top says where the room
starts."""

import pytest
from selenium.webdriver.common.keys import Keys

from tests.support.browser import enter_room, lines, sent_events, tap_the_wire, wait_for

pytestmark = pytest.mark.browser

# The first message in view and where its words are on screen.
FIRST_IN_VIEW = """
var box = document.getElementById("messages");
var found = null;
$(box).children(".message").each(function () {
  if (this.offsetTop + this.offsetHeight > box.scrollTop) { found = this; return false; }
});
return found && {id: found.getAttribute("data-id"),
                 top: $(found).children(".text")[0].getBoundingClientRect().top};
"""


def fill(server, room, texts):
    """Store ``texts`` in ``room`` as carol's, oldest first, in one go."""
    server.manage(
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model\n"
        "from chat.models import Message, Room\n"
        f"room = Room.objects.get(slug={room!r})\n"
        "carol = get_user_model().objects.get(username='carol')\n"
        f"for text in {list(texts)!r}:\n"
        "    Message.objects.create(room=room, author=carol, text=text)\n",
    )
    return list(texts)


def shown(driver):
    """The messages shown, as 'author: text', oldest first."""
    return [line for line in lines(driver) if line.startswith("carol: ")]


def ids(driver):
    return driver.execute_script(
        "return $('#messages .message[data-id]').map(function () {"
        "  return Number($(this).attr('data-id')); }).get();"
    )


def first_in_view(driver):
    return driver.execute_script(FIRST_IN_VIEW)


def same_place(driver, line):
    """The message of ``line`` (from first_in_view) is where it was on screen:
    within half a pixel (scroll positions are whole pixels, lines are not)."""
    now = where(driver, line)
    return now["id"] == line["id"] and abs(now["top"] - line["top"]) <= 0.5


def where(driver, line):
    """Where the words of the message of ``line`` (from first_in_view) are on screen now."""
    top = driver.execute_script(
        "return $('#messages .message[data-id=' + arguments[0] + '] > .text')[0]"
        ".getBoundingClientRect().top",
        line["id"],
    )
    return {"id": line["id"], "top": top}


def scroll_to_top(driver):
    """Scroll the box to its top, as a reader would; returns what is in view then
    (older messages, if any come, arrive later: from the server)."""
    return driver.execute_script(
        "var box = document.getElementById('messages'); box.scrollTop = 0;"
        "box.dispatchEvent(new Event('scroll'));" + FIRST_IN_VIEW
    )


def room_start(driver):
    element = driver.find_element("id", "history-start")
    return element.text if element.is_displayed() else None


def test_scrolling_to_the_top_loads_older_messages_and_the_view_stays(server, browsers, fresh_room):
    tall = "\n".join(f"detail {k}" for k in range(8))  # three of these overflow the box
    texts = fill(server, fresh_room, [f"old {n:03d}\n{tall}" for n in range(120)])
    bob = enter_room(browsers.new(), server.url, "bob", fresh_room)
    assert shown(bob) == [f"carol: {t}" for t in texts[-3:]]  # the exercise's last 3
    assert bob.find_element("id", "load-older").is_displayed()
    assert room_start(bob) is None

    for count in (53, 103, 120):
        before = scroll_to_top(bob)
        wait_for(bob, lambda d, c=count: len(shown(d)) == c, message=f"{count} shown")
        assert same_place(bob, before), (before, where(bob, before))
        assert shown(bob) == [f"carol: {t}" for t in texts[-count:]]

    wait_for(bob, lambda d: room_start(d) == f"Start of #Test room {fresh_room}")
    assert not bob.find_element("id", "load-older").is_displayed()
    assert ids(bob) == sorted(set(ids(bob)))
    # Nothing is asked for once the start is shown.
    scroll_to_top(bob)
    assert len(shown(bob)) == 120


def test_the_load_older_button_works_from_the_keyboard(server, browsers, fresh_room):
    texts = fill(server, fresh_room, [f"short {n:02d}" for n in range(60)])
    bob = enter_room(browsers.new(), server.url, "bob", fresh_room)
    assert shown(bob) == [f"carol: {t}" for t in texts[-3:]]
    button = bob.find_element("id", "load-older")
    assert button.text == "Load older messages"
    bob.execute_script("arguments[0].focus()", button)
    before = first_in_view(bob)

    button.send_keys(Keys.ENTER)
    wait_for(bob, lambda d: len(shown(d)) == 53, message="50 more")
    assert same_place(bob, before), (before, where(bob, before))
    assert shown(bob) == [f"carol: {t}" for t in texts[-53:]]

    # Still focused: Enter again loads the rest, and the top says so.
    assert bob.switch_to.active_element == button
    button.send_keys(Keys.ENTER)
    wait_for(bob, lambda d: room_start(d) == f"Start of #Test room {fresh_room}")
    assert shown(bob) == [f"carol: {t}" for t in texts]
    assert not button.is_displayed()
    assert bob.switch_to.active_element.get_attribute("id") == "messages"


def test_a_room_with_fewer_than_three_messages_shows_its_start(server, browsers, fresh_room):
    fill(server, fresh_room, ["the very first", "and the second"])
    bob = enter_room(browsers.new(), server.url, "bob", fresh_room)
    assert shown(bob) == ["carol: the very first", "carol: and the second"]
    assert room_start(bob) == f"Start of #Test room {fresh_room}"
    assert not bob.find_element("id", "load-older").is_displayed()


def test_a_refused_page_is_asked_again_after_retry_after_not_before(servers, browsers):
    """The budget of costly requests refuses a page (retry_after): the button
    says when, scrolling up again meanwhile asks nothing, and the page comes by
    itself once the wait is over, the reader still at the top."""
    tight = servers.start(HISTORY_RATE_BURST="1", HISTORY_RATE_PER_MINUTE="12")
    tall = "\n".join(f"detail {k}" for k in range(8))  # the box scrolls
    texts = fill(tight, "general", [f"line {n:03d}\n{tall}" for n in range(120)])
    bob = enter_room(tap_the_wire(browsers.new()), tight.url, "bob", "general")
    scroll_to_top(bob)
    wait_for(bob, lambda d: len(shown(d)) == 53, message="the first page")
    scroll_to_top(bob)
    button = bob.find_element("id", "load-older")
    wait_for(bob, lambda d: button.text.startswith("Older messages in "), message="the wait shown")
    for _ in range(5):  # the reader insists
        scroll_to_top(bob)
        button.click()
    assert len(sent_events(bob, "older")) == 2
    wait_for(bob, lambda d: len(shown(d)) == 103, timeout=20, message="the page, by itself")
    assert len(sent_events(bob, "older")) == 3
    assert shown(bob) == [f"carol: {t}" for t in texts[-103:]]
    assert button.text == "Load older messages"
