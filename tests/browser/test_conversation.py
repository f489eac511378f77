"""A conversation beyond posting lines (issue 14), in real browsers against the
real server, several users at once: who is typing, editing and deleting in
place (the author's and staff's controls), mentions and "@" completion,
muting, and a page that was offline while messages changed."""

import datetime
import time
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from tests.support.browser import (
    enter_room,
    lines,
    make_staff,
    offline,
    post_messages,
    received_frames,
    say,
    sent_events,
    set_time_zone,
    switchable,
    tap_the_wire,
    type_message,
    unique,
    wait_for,
    wait_line,
    wait_ready,
)

pytestmark = pytest.mark.browser


def typing_line(driver):
    return driver.find_element("id", "typing").text


def line_of(driver, text):
    """The .message line whose text is ``text``."""
    return wait_for(
        driver,
        lambda d: d.execute_script(
            "var text = arguments[0];"
            "return $('#messages .message').filter(function () {"
            "  return $(this).find('.text').text() === text; }).get(0);",
            text,
        ),
        message=f"the line {text!r}",
    )


def controls(driver, line):
    """The labels of the controls a line offers: e.g. ["Edit", "Delete"]."""
    return [
        b.get_attribute("textContent")
        for b in line.find_elements("css selector", ".message-actions button")
    ]


def use(driver, line, control):
    """Point at the line and tap it (its controls show, with a mouse or on a
    touch screen), then press one of them."""
    ActionChains(driver).move_to_element(line).click().perform()
    button = line.find_element("css selector", control)
    wait_for(driver, lambda d: button.is_displayed(), message=f"{control} shown")
    button.click()


def conversation(driver):
    """The messages a page shows, by id: [id, deleted, text, edited]."""
    return driver.execute_script(
        "return $('#messages .message[data-id]').map(function () {"
        "  var $m = $(this);"
        "  return [[Number($m.attr('data-id')), $m.hasClass('deleted'),"
        "           $m.find('.text').text(), $m.find('.edited').length > 0]]; }).get();"
    )


def chat_client(clients, server, room, username):
    """A Socket.IO client of ``username`` (made if missing) in ``room``."""
    cookie = server.create_sessions([username])[username]
    return clients.open(SimpleNamespace(username=username, headers={"Cookie": cookie}), room)


def test_who_is_typing_shows_for_the_others_and_expires(server, browsers, fresh_room, clients):
    alice = enter_room(tap_the_wire(browsers.new()), server.url, "alice", fresh_room)
    bob = enter_room(browsers.new(), server.url, "bob", fresh_room)
    carol = chat_client(clients, server, fresh_room, "carol")
    dan = chat_client(clients, server, fresh_room, "dan")
    assert typing_line(alice) == ""

    type_message(bob, "hel")
    wait_for(alice, lambda d: typing_line(d) == "bob is typing…", message="bob typing")
    assert typing_line(bob) == ""  # not one's own
    assert carol.call({"typing": True}, event="typing")["ok"]
    wait_for(alice, lambda d: typing_line(d) == "bob and carol are typing…")
    assert dan.call({"typing": True}, event="typing")["ok"]
    wait_for(alice, lambda d: typing_line(d) == "several people are typing…")

    carol.post(unique("carol sends"))  # a message from her ends her entry at once
    wait_for(alice, lambda d: typing_line(d) == "bob and dan are typing…")
    dan.close()  # leaving ends his
    wait_for(alice, lambda d: typing_line(d) == "bob is typing…")
    bob.find_element("id", "message-input").send_keys(Keys.BACKSPACE * 3)  # emptied
    wait_for(alice, lambda d: typing_line(d) == "", message="bob stopped")

    # News about the reader's own name (their other tab, another worker) are not shown.
    alice.execute_script('window.d09Deliver(\'42["typing",{"user":"alice","typing":true}]\')')
    assert typing_line(alice) == ""

    # An entry expires 6 s after its last news when nothing else ends it.
    news = time.monotonic()
    assert carol.call({"typing": True}, event="typing")["ok"]
    wait_for(alice, lambda d: typing_line(d) == "carol is typing…")
    wait_for(alice, lambda d: typing_line(d) == "", timeout=15, message="carol expired")
    assert 5.5 <= time.monotonic() - news <= 9


def test_the_page_says_when_its_reader_types_at_most_every_three_seconds(
    server, browser, fresh_room
):
    alice = enter_room(tap_the_wire(browser), server.url, "alice", fresh_room)
    type_message(alice, "hello there, this is quite a long line")
    wait_for(alice, lambda d: sent_events(d, "typing"), message="typing sent")
    assert sent_events(alice, "typing") == [{"typing": True}]  # once for all those keys
    alice.find_element("id", "message-input").send_keys(Keys.ENTER)
    wait_for(alice, lambda d: sent_events(d, "typing")[-1] == {"typing": False}, message="sent")
    assert sent_events(alice, "typing") == [{"typing": True}, {"typing": False}]

    box = type_message(alice, "x")
    wait_for(alice, lambda d: len(sent_events(d, "typing")) == 3, message="typing again")
    box.send_keys(Keys.BACKSPACE)  # emptied: stopped
    wait_for(alice, lambda d: len(sent_events(d, "typing")) == 4, message="emptied")
    assert sent_events(alice, "typing")[2:] == [{"typing": True}, {"typing": False}]

    # Typing on and on: a new "true" every 3 s, no more often.
    started = time.monotonic()
    while time.monotonic() - started < 4:
        box.send_keys("y")
    trues = [e for e in sent_events(alice, "typing")[4:] if e["typing"]]
    assert len(trues) == 2


def test_an_edit_and_a_delete_update_every_open_page(server, browsers, fresh_room):
    alice = enter_room(browsers.new(), server.url, "alice", fresh_room)
    bob = enter_room(tap_the_wire(browsers.new()), server.url, "bob", fresh_room)
    first, second, edited = unique("first words"), unique("to be deleted"), unique("better words")
    say(alice, first)
    say(alice, second)
    wait_line(bob, f"alice: {second}")

    # Escape leaves the text as it was.
    use(alice, line_of(alice, first), ".edit-message")
    editor = alice.find_element("css selector", ".message-editor textarea")
    assert editor.get_attribute("value") == first
    assert alice.switch_to.active_element == editor
    editor.send_keys(" and more", Keys.ESCAPE)
    wait_for(alice, lambda d: not d.find_elements("css selector", ".message-editor"))
    assert line_of(alice, first).find_elements("css selector", ".edited") == []

    # An empty text is refused: the form says why and stays.
    use(alice, line_of(alice, first), ".edit-message")
    editor = alice.find_element("css selector", ".message-editor textarea")
    editor.send_keys(Keys.CONTROL, "a")
    editor.send_keys(Keys.DELETE, Keys.ENTER)
    error = wait_for(alice, lambda d: d.find_element("css selector", ".edit-error").text)
    assert error == "The message is empty."

    # Enter saves: every page shows the new text, "(edited)" after it.
    editor.send_keys(edited, Keys.ENTER)
    for driver in (alice, bob):
        line = line_of(driver, edited)
        assert line.find_element("css selector", ".edited").text == "(edited)"
        assert f"alice: {first}" not in lines(driver)
    assert not alice.find_elements("css selector", ".message-editor")

    # Delete asks first, inline; No keeps the message.
    use(alice, line_of(alice, second), ".delete-message")
    question = alice.find_element("css selector", ".delete-confirm")
    assert question.text.split() == ["Delete?", "Yes", "No"]
    question.find_element("css selector", ".confirm-no").click()
    assert not alice.find_elements("css selector", ".delete-confirm")
    assert f"alice: {second}" in lines(alice)

    use(alice, line_of(alice, second), ".delete-message")
    alice.find_element("css selector", ".delete-confirm .confirm-yes").click()
    for driver in (alice, bob):
        wait_for(driver, lambda d: d.find_elements("css selector", ".message.deleted"))
        placeholder = driver.find_element("css selector", ".message.deleted")
        assert placeholder.find_element("css selector", ".deleted-note").text == "message deleted"
        assert placeholder.find_element("css selector", ".author").text == "alice"
        assert second not in driver.page_source
        assert controls(driver, placeholder) == []

    # A broadcast that took longer than the changes after it (through Redis, say)
    # does not bring an older state back: the line keeps its newest one.
    for late in received_frames(bob, "message"):
        bob.execute_script("window.d09Deliver(arguments[0])", late)
    assert line_of(bob, edited).find_element("css selector", ".edited").text == "(edited)"
    assert f"alice: {first}" not in lines(bob)
    assert second not in bob.page_source


def test_the_controls_follow_the_author_and_staff_rules(server, browsers, fresh_room):
    """Authors edit their own messages for 15 minutes and delete them at any time;
    staff delete any; nobody else gets a control."""
    now = datetime.datetime.now(datetime.UTC)
    old, recent, bobs = unique("old"), unique("recent"), unique("bob's")
    post_messages(
        server,
        fresh_room,
        [
            ("alice", old, now - datetime.timedelta(minutes=20)),
            ("alice", recent, now - datetime.timedelta(minutes=1)),
            ("bob", bobs, now),
        ],
    )
    moderator = make_staff(server, "mod")
    alice = enter_room(browsers.new(), server.url, "alice", fresh_room)
    bob = enter_room(browsers.new(), server.url, "bob", fresh_room)
    mod = enter_room(browsers.new(), server.url, moderator, fresh_room)

    def offered(driver):
        return [controls(driver, line_of(driver, text)) for text in (old, recent, bobs)]

    assert offered(alice) == [["Delete"], ["Edit", "Delete"], []]
    assert offered(bob) == [[], [], ["Edit", "Delete"]]
    assert offered(mod) == [["Delete"], ["Delete"], ["Delete"]]
    assert alice.find_element("id", "chat").get_attribute("data-staff") == "false"
    assert mod.find_element("id", "chat").get_attribute("data-staff") == "true"

    # Staff delete someone else's message: gone from every page.
    use(mod, line_of(mod, bobs), ".delete-message")
    mod.find_element("css selector", ".delete-confirm .confirm-yes").click()
    for driver in (alice, bob, mod):
        wait_for(driver, lambda d: bobs not in d.page_source, message="deleted everywhere")
        assert driver.find_elements("css selector", ".message.deleted")


def test_mentions_are_highlighted_and_mark_the_named_reader(
    server, browsers, fresh_room, carol_talks
):
    alice = enter_room(browsers.new(), server.url, "alice", fresh_room)
    bob = enter_room(browsers.new(), server.url, "bob", fresh_room)
    text = unique("hi @alice, meet @nobody.") + " mail@example.com <b>@alice.</b>"
    carol_talks.post(text)
    for driver in (alice, bob):
        line = line_of(driver, text)  # the text itself, unchanged
        names = line.find_elements("css selector", ".text .mention-name")
        assert [n.text for n in names] == ["@alice", "@alice"]
        assert line.find_elements("css selector", ".text b") == []
    assert "mention" in line_of(alice, text).get_attribute("class").split()
    assert "mention" not in line_of(bob, text).get_attribute("class").split()


def test_at_offers_the_people_here_by_keyboard_and_mouse(server, browser, fresh_room, clients):
    chat_client(clients, server, fresh_room, "bob")
    chat_client(clients, server, fresh_room, "carol")
    alice = enter_room(browser, server.url, "alice", fresh_room)
    wait_for(alice, lambda d: len(d.find_elements("css selector", "#users li")) == 3)
    box = alice.find_element("id", "message-input")
    listbox = alice.find_element("id", "mention-list")

    def offered():
        if not listbox.is_displayed():
            return None
        return [o.text for o in listbox.find_elements("css selector", "[role=option]")]

    def active():
        chosen = box.get_attribute("aria-activedescendant")
        selected = listbox.find_elements("css selector", "[aria-selected=true]")
        assert [o.get_attribute("id") for o in selected] == [chosen]
        return selected[0].text

    box.send_keys("hi @")
    assert offered() == ["@bob", "@carol"]  # the people here but the reader
    assert listbox.get_attribute("role") == "listbox"
    assert box.get_attribute("aria-controls") == "mention-list"
    assert active() == "@bob"
    box.send_keys("C")
    assert offered() == ["@carol"]
    box.send_keys(Keys.BACKSPACE)
    assert offered() == ["@bob", "@carol"] and active() == "@carol"  # the choice stays
    box.send_keys(Keys.ARROW_DOWN)
    assert active() == "@bob"  # round
    box.send_keys(Keys.ARROW_UP)
    assert active() == "@carol"
    box.send_keys(Keys.ENTER)  # chooses, does not send
    assert box.get_attribute("value") == "hi @carol "
    assert offered() is None and box.get_attribute("aria-activedescendant") is None

    box.send_keys("and @b", Keys.TAB)
    assert box.get_attribute("value") == "hi @carol and @bob "
    box.send_keys("@")
    assert offered() == ["@bob", "@carol"]
    box.send_keys(Keys.ESCAPE)
    assert offered() is None
    box.send_keys("c")
    assert offered() is None  # closed until the next "@"
    box.send_keys(Keys.BACKSPACE, Keys.BACKSPACE, "@")
    options = listbox.find_elements("css selector", "[role=option]")
    options[1].click()
    assert box.get_attribute("value") == "hi @carol and @bob @carol "
    assert alice.switch_to.active_element == box
    assert lines(alice) == ["alice has joined the chat"]  # nothing was sent

    box.send_keys(Keys.ENTER)
    line = line_of(alice, "hi @carol and @bob @carol")
    names = wait_for(alice, lambda d: line.find_elements("css selector", ".mention-name"))
    assert [n.text for n in names] == ["@carol", "@bob", "@carol"]


def test_a_muted_user_sees_why(server, browsers, fresh_room):
    moderator = make_staff(server, "mod")
    bob = browsers.new()
    set_time_zone(bob, "Asia/Tokyo")
    enter_room(bob, server.url, "bob", fresh_room)
    mod = enter_room(browsers.new(), server.url, moderator, fresh_room)
    wait_for(mod, lambda d: d.find_elements("css selector", "#users .moderate-user"))
    # Staff moderate the others, not themselves; the list's items read as names.
    buttons = mod.find_elements("css selector", "#users .moderate-user")
    assert [b.get_attribute("data-user") for b in buttons] == ["bob"]
    assert buttons[0].get_attribute("aria-label") == "Moderate bob"
    assert [
        li.get_attribute("textContent") for li in mod.find_elements("css selector", "#users li")
    ] == ["bob", "mod"]
    assert bob.find_elements("css selector", ".moderate-user, #moderation") == []

    buttons[0].click()
    panel = mod.find_element("id", "moderation")
    assert panel.is_displayed() and "Mute bob in this room for" in panel.text
    panel.find_element("css selector", "[data-minutes='5']").click()
    wait_for(mod, lambda d: not panel.is_displayed(), message="panel closed")
    until = (
        server.manage(
            "shell",
            "-c",
            "from chat.models import Mute; "
            f"print(Mute.objects.filter(user__username='bob', room__slug={fresh_room!r})"
            ".latest('created').until.isoformat())",
        )
        .strip()
        .splitlines()[-1]
    )
    tokyo = ZoneInfo("Asia/Tokyo")
    local = datetime.datetime.fromisoformat(until).astimezone(tokyo)
    day = " tomorrow" if local.date() != datetime.datetime.now(tokyo).date() else ""
    wait_line(bob, f"bob was muted by mod until {local:%H:%M}{day}")
    wait_for(mod, lambda d: any(line.startswith("bob was muted by mod until") for line in lines(d)))

    text = unique("can anyone hear me")
    type_message(bob, text).send_keys(Keys.ENTER)
    failed = wait_for(bob, lambda d: d.find_elements("css selector", ".message.failed"))[0]
    state = failed.find_element("css selector", ".message-state").text
    assert state.startswith("Not sent: You are muted in this room until ")
    assert "Retry" in state and "Discard" in state
    assert bob.find_element("id", "message-error").text.startswith("You are muted in this room")
    assert f"bob: {text}" not in lines(mod)

    mod.find_element("css selector", "#users .moderate-user").click()
    panel.find_element("css selector", ".unmute-user").click()
    for driver in (bob, mod):
        wait_line(driver, "bob can write again")


def test_a_page_offline_during_an_edit_and_a_delete_shows_both_after_it_reconnects(
    server, browsers, fresh_room, carol_talks
):
    """bob's page loses its connection while carol edits, deletes and posts (and
    his own edit cannot go: the form says so); back, it shows exactly what alice's
    page, which never left, shows."""
    alice = enter_room(browsers.new(), server.url, "alice", fresh_room)
    bob = enter_room(tap_the_wire(switchable(browsers.new())), server.url, "bob", fresh_room)
    own = unique("bob's own")
    say(bob, own)
    texts = [unique(f"carol {n}") for n in range(3)]
    ids = [carol_talks.post(text) for text in texts]
    for driver in (alice, bob):
        wait_line(driver, f"carol: {texts[-1]}")

    offline(bob, cut=True)
    wait_for(bob, lambda d: d.execute_script("return window.chatReady") is False)
    assert carol_talks.call({"id": ids[0], "text": "carol 0, edited"}, event="edit")["ok"]
    assert carol_talks.call({"id": ids[1]}, event="delete")["ok"]
    posted = carol_talks.post(unique("posted while bob was away"))
    gone = carol_talks.post(unique("posted and deleted while bob was away"))
    assert carol_talks.call({"id": gone}, event="delete")["ok"]
    wait_for(alice, lambda d: len(d.find_elements("css selector", ".message.deleted")) == 2)
    use(bob, line_of(bob, own), ".edit-message")
    bob.switch_to.active_element.send_keys(" (edited offline)", Keys.ENTER)
    error = wait_for(bob, lambda d: d.find_element("css selector", ".edit-error").text)
    assert error == "Not connected to the chat: try again once it is back."
    bob.switch_to.active_element.send_keys(Keys.ESCAPE)

    offline(bob, off=False)
    wait_ready(bob, message="bob back")
    wait_for(bob, lambda d: conversation(d) == conversation(alice), message="the same messages")
    shown = conversation(bob)
    assert [m[0] for m in shown][1:] == [*ids, posted, gone]
    assert shown[0][2:] == [own, False]
    assert shown[1][2:] == ["carol 0, edited", True]
    assert shown[2][1] and shown[5][1]  # deleted
    assert texts[1] not in bob.page_source
    # It asked for the changes after the last one it had seen.
    connects = [f for f in bob.execute_script("return window.d09Sent") if f.startswith("40")]
    assert "since" not in connects[0] and '"since":' in connects[-1]
