"""Every message exactly once, from the keyboard to every screen (issue 12):
the page shows a line pending at once, keeps unacknowledged lines in an outbox
(sessionStorage) and sends them again with the same client_message_id after a
lost ack, a restart or a reload; a line refused for a while (retry_after) goes
again by itself, in order; a line refused for good shows why, with Retry and
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
    make_staff,
    offline,
    say,
    sent_events,
    submit,
    switchable,
    tap_the_wire,
    type_message,
    unique,
    wait_for,
    wait_line,
    wait_ready,
)
from tests.support.server import DEMO_PASSWORD, login, wait_until

pytestmark = pytest.mark.browser


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


def test_a_refused_message_can_be_retried(server, browsers, fresh_room, clients):
    """Refused for as long as a moderator says (muted: no retry_after): the line
    shows why, with Retry and Discard, and the text stays; once the mute is
    lifted, Retry sends it (again with its id) and it becomes a normal line."""
    moderator = clients.open(
        login(server.url, make_staff(server, "mod"), DEMO_PASSWORD), fresh_room
    )
    alice = enter_room(browsers.new(), server.url, "alice", fresh_room)
    bob = enter_room(browsers.new(), server.url, "bob", fresh_room)
    assert moderator.call({"user": "alice", "minutes": 5}, event="mute")["ok"]
    wait_for(
        alice, lambda d: any(line.startswith("alice was muted by mod until") for line in lines(d))
    )
    text = unique("said while muted")
    submit(alice, text)
    failed = wait_for(alice, lambda d: d.find_elements("css selector", ".message.failed"))[0]
    assert failed.find_element("css selector", ".text").text == text
    assert (
        "You are muted in this room until"
        in failed.find_element("css selector", ".message-state").text
    )
    assert "You are muted in this room until" in alice.find_element("id", "message-error").text
    assert failed.find_element("css selector", "button.retry").text == "Retry"
    assert failed.find_element("css selector", "button.discard").text == "Discard"
    assert [(e["text"], e["state"]) for e in outbox(alice)] == [(text, "failed")]
    cid = failed.get_attribute("data-client-id")

    assert moderator.call({"user": "alice"}, event="unmute")["ok"]
    wait_line(alice, "alice can write again")
    failed.find_element("css selector", "button.retry").click()
    wait_for(alice, lambda d: not unsent(d) and f"alice: {text}" in lines(d), message="sent")
    wait_line(bob, f"alice: {text}")
    assert [cid for _, cid in stored(server, text)] == [cid]  # once, with its first id
    for driver in (alice, bob):
        assert lines(driver).count(f"alice: {text}") == 1
    assert alice.find_element("id", "message-error").text == ""
    assert outbox(alice) == []


def test_lines_refused_for_a_while_go_again_by_themselves_in_order(servers, browsers):
    """Too fast (a refusal with retry_after): the line stays pending and says
    why, then goes by itself after that long, with its id, and the lines typed
    after it follow in order; nothing shows failed."""
    tight = servers.start(MESSAGE_RATE_BURST="2", MESSAGE_RATE_PER_MINUTE="60")
    alice = enter_room(tap_the_wire(browsers.new()), tight.url, "alice", "general")
    texts = [unique(f"burst {n}") for n in range(5)]
    for text in texts:
        submit(alice, text)
    wait_for(
        alice,
        lambda d: (
            "too fast"
            in " ".join(
                e.text for e in d.find_elements("css selector", ".message.pending .message-state")
            )
        ),
        message="a held line says why",
    )
    assert not alice.find_elements("css selector", ".message.failed")
    wait_for(alice, lambda d: not unsent(d), timeout=30, message="all sent")
    assert not alice.find_elements("css selector", ".message.failed")
    ids = [stored(tight, text) for text in texts]
    assert all(len(rows) == 1 for rows in ids)
    assert [rows[0][0] for rows in ids] == sorted(rows[0][0] for rows in ids)  # typed order
    sent = sent_messages(alice)
    assert [t for t, _ in sent if t == texts[2]] == [texts[2], texts[2]]  # sent again...
    assert len({c for t, c in sent if t == texts[2]}) == 1  # ...with its id
    assert [line for line in lines(alice) if "burst" in line] == [f"alice: {t}" for t in texts]


def test_twelve_lines_typed_offline_are_all_delivered_once(servers, browsers):
    """More lines typed offline than the flood limit's burst (10): on reconnect
    the page sends them all, one after another, waiting when the server says so;
    each is stored once, in the order typed, and no line shows failed."""
    own = servers.start(MESSAGE_RATE_BURST="10", MESSAGE_RATE_PER_MINUTE="120")
    alice = enter_room(browsers.new(), own.url, "alice", "general")
    bob = enter_room(browsers.new(), own.url, "bob", "general")
    own.stop()
    wait_for(alice, lambda d: "reconnecting" in status(d), message="reconnecting shown")
    texts = [unique(f"offline line {n}") for n in range(12)]
    for text in texts:
        send_now(alice, text)
    assert unsent(alice) == [("pending", text) for text in texts]
    wait_for(alice, lambda d: "12 messages will be sent" in status(d), message="promise shown")

    own.start()
    wait_for(alice, lambda d: not unsent(d), timeout=40, message="all delivered")
    wait_line(bob, f"alice: {texts[-1]}", timeout=30)
    rows = [stored(own, text) for text in texts]
    assert [len(found) for found in rows] == [1] * 12
    assert [found[0][0] for found in rows] == sorted(found[0][0] for found in rows)
    for driver in (alice, bob):
        shown = [line for line in lines(driver) if "offline line" in line]
        assert shown == [f"alice: {text}" for text in texts]
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
