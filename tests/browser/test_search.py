"""Search in a real browser (issue 24): "/" focuses the search box, a word, a
phrase and from: find their messages on the results page (highlighted, the
text left as text), and a result opens its room at the message, in context,
newer messages loading as the reader scrolls down to the live end; the read
mark does not move over what was jumped over."""

import uuid

import pytest
from selenium.webdriver.common.keys import Keys

from tests.support.browser import (
    another_page_loaded,
    click,
    enter_room,
    lines,
    log_in,
    sent_events,
    tap_the_wire,
    wait_for,
    wait_line,
)

pytestmark = pytest.mark.browser


def fill(server, room, rows):
    """Store ``[(username, text)]`` in ``room``, oldest first, in one go; their ids."""
    output = server.manage(
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model\n"
        "from chat.models import Message, Room\n"
        f"room = Room.objects.get(slug={room!r})\n"
        "users = {u.username: u for u in get_user_model().objects.all()}\n"
        "ids = []\n"
        f"for name, text in {list(rows)!r}:\n"
        "    ids.append(Message.objects.create(room=room, author=users[name], text=text).pk)\n"
        "print(ids)\n",
    )
    return [int(n) for n in output.strip().splitlines()[-1].strip("[]").split(", ")]


def read_mark(server, username, room):
    output = server.manage(
        "shell",
        "-c",
        "from chat.models import ReadMark\n"
        f"print(ReadMark.objects.get(user__username={username!r}, room__slug={room!r})"
        ".last_read_id)",
    )
    return int(output.strip().splitlines()[-1])


def search_with_the_box(driver, query):
    """Press "/" (the box takes the focus), type the query, Enter; the results."""
    new_page = another_page_loaded(driver)
    driver.find_element("tag name", "body").send_keys("/")
    box = driver.switch_to.active_element
    assert "search-box" in box.get_attribute("class")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(query, Keys.ENTER)
    # The page it was typed on gone first: typed on a results page, the old
    # results would otherwise be taken for the new ones.
    wait_for(
        driver,
        lambda d: new_page(d) and "/chat/search/" in d.current_url,
        message="the results page",
    )
    return driver.find_elements("css selector", "#search-results .search-result")


def marked(result):
    return [mark.text for mark in result.find_elements("tag name", "mark")]


def ids_shown(driver):
    return driver.execute_script(
        "return $('#messages .message[data-id]').map(function () {"
        "  return Number($(this).attr('data-id')); }).get();"
    )


def scroll_to_bottom(driver):
    driver.execute_script(
        "var box = document.getElementById('messages'); box.scrollTop = box.scrollHeight;"
        "box.dispatchEvent(new Event('scroll'));"
    )


def scroll_down_for_a_page(driver):
    """Scroll the box to its bottom, as a reader would; wait for newer messages."""
    count = len(ids_shown(driver))
    scroll_to_bottom(driver)
    wait_for(driver, lambda d: len(ids_shown(d)) > count, message="a newer page")


def open_at(driver, server, room, message_id):
    """alice's page of ``room`` opened at ``message_id`` (a search result's link)."""
    log_in(driver, server.url, "alice")
    driver.get(f"{server.url}/chat/{room}/?at={message_id}")
    wait_for(driver, lambda d: d.find_elements("css selector", "#messages .message-target"))
    return driver


def test_find_by_word_phrase_and_author_then_open_in_context(server, browsers, fresh_room):
    word, other = f"zx{uuid.uuid4().hex[:8]}", f"qy{uuid.uuid4().hex[:8]}"
    fill(server, fresh_room, [("carol", f"before {n}") for n in range(20)])
    alice = tap_the_wire(browsers.new())
    enter_room(alice, server.url, "alice", fresh_room)  # her read mark: the newest now
    mark = read_mark(server, "alice", fresh_room)

    rows = [("carol", f"filler {n}") for n in range(150)]
    rows[40] = ("carol", f"we {word} deployed the <b>fix</b>")
    rows[80] = ("carol", f"{other} build is red")
    rows[81] = ("carol", f"red is the {other} build")
    rows[90] = ("bob", f"{other} said bob")
    ids = fill(server, fresh_room, rows)
    target = ids[40]

    # A word ("deploy" finds "deployed"), from the room list.
    alice.get(server.url + "/chat/")
    [result] = search_with_the_box(alice, f"deploy {word}")
    assert marked(result) == [word, "deployed"]
    assert result.find_element("class name", "search-text").text == (
        f"we {word} deployed the <b>fix</b>"
    )
    assert result.find_element("class name", "search-author").text == "carol"
    assert result.find_element("class name", "search-room").text == f"#Test room {fresh_room}"
    # A phrase: the words together, in order.
    [result] = search_with_the_box(alice, f'"{other} build is red"')
    assert result.find_element("class name", "search-text").text == f"{other} build is red"
    # from:
    [result] = search_with_the_box(alice, f"{other} from:bob")
    assert result.find_element("class name", "search-text").text == f"{other} said bob"

    # Open the word's message: in its context, marked, in view.
    [result] = search_with_the_box(alice, word)
    click(alice, result.find_element("class name", "search-open"))
    wait_for(
        alice,
        lambda d: d.find_elements("css selector", f"#messages .message-target[data-id='{target}']"),
        message="the target shown",
    )
    assert alice.execute_script(
        "var line = $('#messages .message-target')[0].getBoundingClientRect();"
        "var box = document.getElementById('messages').getBoundingClientRect();"
        "return line.top >= box.top && line.bottom <= box.bottom;"
    )
    shown = ids_shown(alice)
    assert shown[0] < target < shown[-1]  # older above, newer below
    assert ids[-1] not in shown  # not the live end yet
    assert shown == sorted(shown) and shown == list(range(shown[0], shown[-1] + 1))

    # "/" in the composer is a character, not a jump to the search box.
    alice.find_element("id", "message-input").send_keys("a/b")
    assert alice.switch_to.active_element.get_attribute("id") == "message-input"
    assert alice.find_element("id", "message-input").get_attribute("value") == "a/b"
    alice.find_element("id", "message-input").clear()

    # Down to the live end, a page at a time as the reader scrolls.
    pages = 0
    while ids[-1] not in ids_shown(alice):
        scroll_down_for_a_page(alice)
        pages += 1
        if ids[-1] not in ids_shown(alice):
            # Still in the context: what was jumped over is not read.
            assert sent_events(alice, "read") == []
    assert pages >= 2
    assert read_mark(server, "alice", fresh_room) == mark
    shown = ids_shown(alice)
    assert shown == list(range(shown[0], ids[-1] + 1))  # no hole on the way down

    # At the live end the page is a room opened normally: the newest, once in
    # view, is read...
    scroll_to_bottom(alice)
    wait_for(alice, lambda d: sent_events(d, "read") == [{"id": ids[-1]}], message="read")
    wait_for(alice, lambda d: read_mark(server, "alice", fresh_room) == ids[-1], 30, "mark")
    # ...and what is said now shows at the bottom.
    enter_room(carol := browsers.new(), server.url, "carol", fresh_room)
    carol.find_element("id", "message-input").send_keys("live again", Keys.ENTER)
    wait_line(alice, "carol: live again", timeout=20)
    assert lines(alice)[-1] == "carol: live again"


def test_a_message_said_while_in_the_context_shows_at_the_live_end(server, browsers, fresh_room):
    ids = fill(server, fresh_room, [("carol", f"old {n}") for n in range(120)])
    alice = open_at(browsers.new(), server, fresh_room, ids[10])
    # Said while alice reads far above: not shown below the context (a hole)...
    bob = enter_room(browsers.new(), server.url, "bob", fresh_room)
    bob.find_element("id", "message-input").send_keys("while you were away", Keys.ENTER)
    wait_for(bob, lambda d: "bob: while you were away" in lines(d))
    assert "bob: while you were away" not in lines(alice)
    # ...but there once she scrolls down to the end, after every older message.
    while "bob: while you were away" not in lines(alice):
        scroll_down_for_a_page(alice)
    assert lines(alice)[-2:] == ["carol: old 119", "bob: while you were away"]


def test_sending_from_the_context_goes_to_the_live_end(server, browsers, fresh_room):
    ids = fill(server, fresh_room, [("carol", f"old {n}") for n in range(120)])
    alice = open_at(browsers.new(), server, fresh_room, ids[5])
    alice.find_element("id", "message-input").send_keys("my answer", Keys.ENTER)
    wait_for(alice, lambda d: lines(d)[-2:] == ["carol: old 119", "alice: my answer"])
    shown = ids_shown(alice)
    assert shown == sorted(shown) and shown == list(range(shown[0], shown[-1] + 1))


def test_a_message_that_is_gone_says_so(server, browsers, fresh_room):
    fill(server, fresh_room, [("carol", "only this")])
    alice = browsers.new()
    log_in(alice, server.url, "alice")
    alice.get(f"{server.url}/chat/{fresh_room}/?at=999999999")
    wait_for(
        alice,
        lambda d: "That message is no longer in this room." in " ".join(lines(d)),
        message="the notice",
    )
