"""Reading a room: a scroll that respects the reader, and the unread count in the
tab's title while the tab is hidden. Messages from others come from a Socket.IO
client (carol), which is quicker than typing them."""

import pytest

from tests.support.browser import enter_room, lines, say, unique, wait_for, wait_line

pytestmark = pytest.mark.browser

GEOMETRY = """
var box = document.getElementById("messages");
var first = null;
$(box).children().each(function () {
  if (this.offsetTop + this.offsetHeight > box.scrollTop) { first = this; return false; }
});
return {top: box.scrollTop, fromBottom: box.scrollHeight - box.scrollTop - box.clientHeight,
        firstLine: first && first.getBoundingClientRect().top,
        firstText: first && first.textContent};
"""


def geometry(driver):
    return driver.execute_script(GEOMETRY)


def view(driver):
    """What the reader looks at: the scroll position and the line at the top, on screen."""
    g = geometry(driver)
    return g["top"], g["firstLine"], g["firstText"]


def scroll_to(driver, from_bottom):
    """Scroll #messages to ``from_bottom`` pixels above its bottom, as a reader would."""
    driver.execute_script(
        "var box = document.getElementById('messages');"
        "box.scrollTop = box.scrollHeight - box.clientHeight - arguments[0];"
        "box.dispatchEvent(new Event('scroll'));",
        from_bottom,
    )


def new_messages_button(driver):
    button = driver.find_element("id", "new-messages")
    return button.text if button.is_displayed() else None


@pytest.fixture
def full_room(server, browsers, fresh_room, carol_talks):
    """bob reads a room whose box overflows; carol (a socket client) talks."""
    bob = enter_room(browsers.new(), server.url, "bob", fresh_room)
    for number in range(30):
        assert carol_talks.send("words to fill the box " * 3 + str(number))["ok"]
    wait_line(bob, "carol: " + "words to fill the box " * 3 + "29")
    assert geometry(bob)["fromBottom"] <= 1
    return bob, carol_talks


def test_a_reader_scrolled_up_is_not_moved_and_sees_how_many_arrived(full_room):
    bob, carol = full_room
    scroll_to(bob, 200)
    before = view(bob)
    assert before[0] > 0
    assert new_messages_button(bob) is None

    carol.send(unique("first while bob reads"))
    wait_for(bob, lambda d: new_messages_button(d) == "1 new message")
    assert view(bob) == before  # the view did not move at all

    for _ in range(2):
        carol.send(unique("more while bob reads"))
    wait_for(bob, lambda d: new_messages_button(d) == "3 new messages")
    assert view(bob) == before

    bob.find_element("id", "new-messages").click()
    wait_for(bob, lambda d: geometry(d)["fromBottom"] <= 1, message="jumped to the newest")
    wait_for(bob, lambda d: new_messages_button(d) is None, message="button gone")


def test_the_count_goes_away_when_the_reader_reaches_the_bottom(full_room):
    bob, carol = full_room
    scroll_to(bob, 200)
    carol.send(unique("while bob reads"))
    wait_for(bob, lambda d: new_messages_button(d) == "1 new message")
    scroll_to(bob, 0)
    wait_for(bob, lambda d: new_messages_button(d) is None, message="button gone at the bottom")
    # Back at the bottom, new lines keep him there again.
    text = unique("at the bottom again")
    carol.send(text)
    wait_line(bob, f"carol: {text}")
    assert geometry(bob)["fromBottom"] <= 1


def test_within_40_pixels_of_the_bottom_counts_as_the_bottom(full_room):
    bob, carol = full_room
    scroll_to(bob, 30)
    text = unique("near the bottom")
    carol.send(text)
    wait_line(bob, f"carol: {text}")
    assert geometry(bob)["fromBottom"] <= 1
    assert new_messages_button(bob) is None

    scroll_to(bob, 60)
    before = view(bob)
    carol.send(unique("a bit further up"))
    wait_for(bob, lambda d: new_messages_button(d) == "1 new message")
    assert view(bob) == before


def test_the_readers_own_message_always_scrolls_to_the_bottom(full_room):
    bob, _ = full_room
    scroll_to(bob, 200)
    text = unique("bob's own words")
    say(bob, text)
    wait_line(bob, f"bob: {text}")
    wait_for(bob, lambda d: geometry(d)["fromBottom"] <= 1, message="at the bottom")
    assert lines(bob)[-1] == f"bob: {text}"
    assert new_messages_button(bob) is None


def tab_title(driver, handle):
    """The title of a tab, even a hidden one (read through DevTools)."""
    for target in driver.execute_cdp_cmd("Target.getTargets", {})["targetInfos"]:
        if target["targetId"] == handle:
            return target["title"]
    raise AssertionError(f"no tab {handle}")


def test_a_hidden_tab_counts_new_messages_in_its_title(server, browsers, fresh_room, carol_talks):
    bob = enter_room(browsers.new(), server.url, "bob", fresh_room)
    room_tab = bob.current_window_handle
    title = bob.title
    assert title == f"Test room {fresh_room} · d09 chat"
    carol_talks.send("seen while the tab is shown")
    wait_line(bob, "carol: seen while the tab is shown")
    assert bob.title == title

    bob.switch_to.new_window("tab")  # the room's tab is hidden now
    for number in range(3):
        carol_talks.send(f"unseen {number}")
        wait_for(bob, lambda d, n=number: tab_title(d, room_tab) == f"({n + 1}) {title}")

    bob.switch_to.window(room_tab)  # shown again
    wait_for(bob, lambda d: d.title == title, message="title reset when shown")
