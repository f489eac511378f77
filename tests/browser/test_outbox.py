"""Every message exactly once, from the keyboard to every screen (issue 12):
the page shows a line pending at once, keeps unacknowledged lines in an outbox
(sessionStorage) and sends them again with the same client_message_id after a
lost ack, a restart or a reload; a refused line shows why, with Retry and
Discard. The server is the real one; its database is read with manage.py."""

import json
import os
import re
import signal

import pytest
from selenium.webdriver.common.keys import Keys

from tests.support.browser import (
    enter_room,
    lines,
    say,
    sent_events,
    submit,
    tap_the_wire,
    type_message,
    unique,
    wait_for,
    wait_line,
    wait_ready,
)
from tests.support.server import wait_until

pytestmark = pytest.mark.browser

# Installed the same way: while the tab's sessionStorage holds "d09-test-offline",
# the page's WebSockets go to a port where nothing listens (the chat is
# unreachable, the pages are not).
OFFLINE_SWITCH = """
(function () {
  var Native = window.WebSocket;
  function Switched(url, protocols) {
    if (window.sessionStorage.getItem("d09-test-offline")) {
      url = url.replace(/\\/\\/[^\\/]+/, "//127.0.0.1:9");
    }
    return protocols === undefined ? new Native(url) : new Native(url, protocols);
  }
  Switched.prototype = Native.prototype;
  ["CONNECTING", "OPEN", "CLOSING", "CLOSED"].forEach(function (name) {
    Switched[name] = Native[name];
  });
  window.WebSocket = Switched;
})();
"""


def switchable(driver):
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": OFFLINE_SWITCH})
    return driver


def offline(driver, off=True):
    """Make the chat's socket unreachable from this tab (from its next attempt on)."""
    if off:
        driver.execute_script("sessionStorage.setItem('d09-test-offline', '1')")
    else:
        driver.execute_script("sessionStorage.removeItem('d09-test-offline')")


def sent_messages(driver):
    """The `message` events the page sent: [(text, client_message_id)]."""
    return [(m["text"], m.get("client_message_id")) for m in sent_events(driver, "message")]


def stored(server, text):
    """Rows of the server's database with this text: [[id, client_message_id], ...]."""
    out = server.manage(
        "shell",
        "-c",
        "import json; from chat.models import Message; "
        f"print(json.dumps(list(Message.objects.filter(text={text!r})"
        ".order_by('id').values_list('id', 'client_message_id'))))",
    )
    return json.loads(out.strip().splitlines()[-1])


def room_ids(server, room):
    out = server.manage(
        "shell",
        "-c",
        "import json; from chat.models import Message; "
        f"print(json.dumps(list(Message.objects.filter(room__slug={room!r})"
        ".order_by('id').values_list('id', flat=True))))",
    )
    return json.loads(out.strip().splitlines()[-1])


def unsent(driver):
    """The reader's lines the server has not stored: [(state, text)] in page order."""
    found = driver.execute_script(
        """return $("#messages .message.pending, #messages .message.failed").map(function () {
             return [[$(this).hasClass("failed") ? "failed" : "pending",
                      $(this).find(".text").text()]];
           }).get();"""
    )
    return [tuple(line) for line in found]


def shown_ids(driver):
    return driver.execute_script(
        "return $('#messages .message[data-id]').map(function () {"
        "  return Number($(this).attr('data-id')); }).get();"
    )


def outbox(driver):
    """What the page keeps in sessionStorage for its room (its outbox)."""
    return driver.execute_script(
        "var found = [];"
        "for (var i = 0; i < sessionStorage.length; i++) {"
        "  var key = sessionStorage.key(i);"
        "  if (key.indexOf('d09.outbox:') === 0) {"
        "    found = found.concat(JSON.parse(sessionStorage.getItem(key))); } }"
        "return found;"
    )


def send_now(driver, text):
    """Type and press Enter, without waiting for anything."""
    type_message(driver, text).send_keys(Keys.ENTER)


def status(driver):
    element = driver.find_element("id", "connection-status")
    return element.text if element.is_displayed() else ""


def type_while_down(own, alice, label):
    """Stop the server, wait for alice's page to notice, type two lines there;
    both are shown pending at once."""
    own.stop()
    wait_for(alice, lambda d: "reconnecting" in status(d), message="reconnecting shown")
    first, second = unique(label), unique(f"{label}, the second")
    send_now(alice, first)
    send_now(alice, second)
    assert unsent(alice) == [("pending", first), ("pending", second)]
    return first, second


def test_a_message_is_pending_at_once_then_normal_in_place(servers, browsers):
    """While the server is down, lines typed are shown pending (greyed, with the
    author), the input stays usable and the status line says they will be sent;
    once the server is back they are sent in the order typed and every page shows
    each once, in the database's order."""
    own = servers.start()
    alice = enter_room(browsers.new(), own.url, "alice", "general")
    bob = enter_room(browsers.new(), own.url, "bob", "general")
    say(alice, "before the server goes down")
    wait_line(bob, "alice: before the server goes down")

    first, second = type_while_down(own, alice, "typed while down")
    assert lines(alice)[-2:] == [f"alice: {first}", f"alice: {second}"]
    box = alice.find_element("id", "message-input")
    assert box.is_enabled() and box.get_attribute("value") == ""
    wait_for(alice, lambda d: "2 messages will be sent" in status(d), message="promise shown")
    colours = alice.execute_script(
        "return [$('#messages .message:not(.pending) .text').last().css('color'),"
        "        $('#messages .message.pending .text').last().css('color')];"
    )
    assert colours[0] != colours[1]  # greyed
    assert [entry["text"] for entry in outbox(alice)] == [first, second]

    own.start()
    wait_for(alice, lambda d: not unsent(d), timeout=30, message="both delivered")
    wait_line(bob, f"alice: {second}", timeout=30)
    for driver in (alice, bob):
        shown = lines(driver)
        assert shown.count(f"alice: {first}") == 1
        assert shown.count(f"alice: {second}") == 1
        assert shown.index(f"alice: {first}") < shown.index(f"alice: {second}")
        ids = shown_ids(driver)
        assert ids == sorted(set(ids))
    assert len(stored(own, first)) == 1 and len(stored(own, second)) == 1
    assert outbox(alice) == []
    wait_for(alice, lambda d: status(d) == "", message="status line gone")


def test_a_lost_ack_is_resent_and_every_page_shows_the_line_once(servers, browsers):
    """The server stores a line, then dies before the page hears back (its ack and
    broadcast are dropped on the way, then the worker is killed): the page keeps
    the line pending and sends it again, with the same id, once the restarted
    worker answers; the database holds it once and every page shows it once."""
    own = servers.start()
    alice = enter_room(tap_the_wire(browsers.new()), own.url, "alice", "general")
    bob = enter_room(tap_the_wire(browsers.new()), own.url, "bob", "general")
    wait_line(alice, "bob has joined the chat")

    alice.execute_script("window.d09Drop = arguments[0]", r'^4(3|2\["message")')
    text = unique("the ack of this one is lost")
    send_now(alice, text)
    wait_line(bob, f"alice: {text}")
    rows = wait_until(lambda: stored(own, text), timeout=20, message="the row")
    assert len(rows) == 1
    message_id, cid = rows[0]
    assert re.fullmatch(r"[A-Za-z0-9_-]{8,64}", cid)
    assert unsent(alice) == [("pending", text)]

    os.kill(own.worker_pids()[0], signal.SIGKILL)  # gunicorn starts a new worker
    alice.execute_script("window.d09Drop = null")

    wait_for(alice, lambda d: not unsent(d), timeout=30, message="the line settled")
    assert [c for t, c in sent_messages(alice) if t == text] == [cid, cid]  # resent, same id
    for driver in (alice, bob):
        # Each page reconnected (a second CONNECT) and is ready again.
        wait_for(
            driver,
            lambda d: (
                sum(f.startswith("40") for f in d.execute_script("return window.d09Sent")) >= 2
                and d.execute_script("return window.chatReady === true")
            ),
            timeout=30,
            message="reconnected",
        )
        assert lines(driver).count(f"alice: {text}") == 1
        assert driver.find_element("css selector", f".message[data-id='{message_id}']")
    assert stored(own, text) == [[message_id, cid]]
    assert outbox(alice) == []
    carol = enter_room(browsers.new(), own.url, "carol", "general")
    assert lines(carol).count(f"alice: {text}") == 1


def test_pending_messages_survive_a_reload(servers, browsers):
    """Lines typed while the server is down are kept in sessionStorage: after a
    reload (the socket still blocked) they are shown pending, then sent once."""
    own = servers.start()
    alice = enter_room(switchable(browsers.new()), own.url, "alice", "general")
    bob = enter_room(browsers.new(), own.url, "bob", "general")

    offline(alice)  # the chat's socket stays unreachable from alice's tab...
    first, second = type_while_down(own, alice, "kept over a reload")

    own.start()  # ...while the server is back: the reload shows the outbox alone
    alice.refresh()
    wait_for(alice, lambda d: unsent(d) == [("pending", first), ("pending", second)])
    assert lines(alice) == [f"alice: {first}", f"alice: {second}"]
    wait_for(alice, lambda d: "2 messages will be sent" in status(d), message="promise shown")
    assert alice.execute_script("return window.chatReady") is False

    offline(alice, False)
    wait_for(alice, lambda d: not unsent(d), timeout=30, message="delivered after the reload")
    wait_ready(alice)
    wait_line(bob, f"alice: {second}", timeout=30)
    for driver in (alice, bob):
        shown = lines(driver)
        assert shown.count(f"alice: {first}") == 1 and shown.count(f"alice: {second}") == 1
        assert shown.index(f"alice: {first}") < shown.index(f"alice: {second}")
    assert len(stored(own, first)) == 1 and len(stored(own, second)) == 1
    assert outbox(alice) == []


def test_a_refused_message_can_be_retried(servers, browsers):
    """Refused (too fast): the line shows why, with Retry and Discard, and the
    text stays; Retry sends it (again with its id) and it becomes a normal line."""
    tight = servers.start(MESSAGE_RATE_BURST="1", MESSAGE_RATE_PER_MINUTE="60")
    alice = enter_room(browsers.new(), tight.url, "alice", "general")
    bob = enter_room(browsers.new(), tight.url, "bob", "general")
    first, second = unique("first"), unique("second, too fast")
    submit(alice, first)
    submit(alice, second)  # at once: the bucket has no token left for it
    failed = wait_for(alice, lambda d: d.find_elements("css selector", ".message.failed"))[0]
    assert failed.find_element("css selector", ".text").text == second
    assert "too fast" in failed.find_element("css selector", ".message-state").text
    assert "too fast" in alice.find_element("id", "message-error").text
    assert failed.find_element("css selector", "button.retry").text == "Retry"
    assert failed.find_element("css selector", "button.discard").text == "Discard"
    assert [(e["text"], e["state"]) for e in outbox(alice)] == [(second, "failed")]
    cid = failed.get_attribute("data-client-id")

    def retried(driver):
        # The bucket refills one line a second: press Retry until it is taken.
        for button in driver.find_elements("css selector", ".message.failed button.retry"):
            button.click()
        return not unsent(driver) and f"alice: {second}" in lines(driver)

    wait_for(alice, retried, timeout=30, message="retried until sent")
    wait_line(bob, f"alice: {second}")
    assert [cid for _, cid in stored(tight, second)] == [cid]  # once, with its first id
    for driver in (alice, bob):
        assert lines(driver).count(f"alice: {second}") == 1
    assert alice.find_element("id", "message-error").text == ""
    assert outbox(alice) == []


def test_a_refused_message_survives_a_reload_until_discarded(server, browsers, fresh_room):
    """Refused for good (too long): the text is never lost silently; it stays,
    failed, over a reload, until the reader discards it."""
    alice = enter_room(browsers.new(), server.url, "alice", fresh_room)
    too_long = "x" * 2001
    submit(alice, too_long)
    wait_for(alice, lambda d: unsent(d) == [("failed", too_long)], message="shown failed")
    reason = alice.find_element("css selector", ".message.failed .message-state").text
    assert "too long" in reason
    assert alice.find_element("id", "message-input").get_attribute("value") == ""

    alice.refresh()
    wait_ready(alice)
    assert unsent(alice) == [("failed", too_long)]
    assert "too long" in alice.find_element("css selector", ".message.failed .message-state").text

    alice.find_element("css selector", ".message.failed button.discard").click()
    wait_for(alice, lambda d: unsent(d) == [], message="discarded")
    assert outbox(alice) == []
    assert stored(server, too_long) == []
    alice.refresh()
    wait_ready(alice)
    assert unsent(alice) == []


def test_lines_take_the_databases_order_with_never_two_copies(
    server, browsers, fresh_room, carol_talks
):
    """alice types a burst while carol talks: each page shows every line once,
    ordered by id as the database is, with alice's lines no longer pending."""
    alice = enter_room(tap_the_wire(browsers.new()), server.url, "alice", fresh_room)
    bob = enter_room(browsers.new(), server.url, "bob", fresh_room)
    mine = [unique(f"alice {n}") for n in range(6)]
    theirs = [unique(f"carol {n}") for n in range(6)]
    for own_line, other_line in zip(mine, theirs, strict=True):
        submit(alice, own_line)
        carol_talks.send(other_line)
    for driver in (alice, bob):
        wait_for(driver, lambda d: not unsent(d) and f"alice: {mine[-1]}" in lines(d))
        wait_line(driver, f"carol: {theirs[-1]}")
    expected = room_ids(server, fresh_room)
    for driver in (alice, bob):
        assert shown_ids(driver) == expected
        shown = lines(driver)
        for text in mine:
            assert shown.count(f"alice: {text}") == 1
    ids = [cid for _, cid in sent_messages(alice)]
    assert len(ids) == len(set(ids)) == len(mine)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{8,64}", cid) for cid in ids)
