"""Attachments in real Chromium against the real server (issue 25): a
screenshot pasted into the composer and a file dropped on the conversation
reach the other member's page as a thumbnail (at its aspect ratio, before it
loads) and as a download; a reload and a reconnect keep them; someone who may
not read the room gets 404 for the file."""

import base64
import uuid

import pytest

from tests.support import files
from tests.support.browser import (
    enter_room,
    lines,
    offline,
    switchable,
    type_message,
    wait_for,
    wait_ready,
)
from tests.support.server import DEMO_PASSWORD

pytestmark = pytest.mark.browser

# Give the page a File made of these bytes, as the clipboard or a drop would.
FILE_IN_PAGE = """
var bytes = Uint8Array.from(atob(arguments[0]), function (c) { return c.charCodeAt(0); });
var file = new File([bytes], arguments[1], { type: arguments[2] });
var transfer = new DataTransfer();
transfer.items.add(file);
"""
PASTE = (
    FILE_IN_PAGE
    + """
var event = new ClipboardEvent("paste", {
  clipboardData: transfer, bubbles: true, cancelable: true
});
document.getElementById("message-input").dispatchEvent(event);
"""
)
DROP = (
    FILE_IN_PAGE
    + """
var target = document.querySelector(".chat-main");
["dragenter", "dragover", "drop"].forEach(function (type) {
  target.dispatchEvent(new DragEvent(type, {
    dataTransfer: transfer, bubbles: true, cancelable: true
  }));
});
"""
)
STATUS_OF = """
var done = arguments[arguments.length - 1];
fetch(arguments[0], { credentials: "same-origin" }).then(function (r) { done(r.status); });
"""


def private_room(server, members):
    """A private room of ``members`` (the first one made it); its slug."""
    slug_name = "files " + uuid.uuid4().hex[:6]
    code = (
        "from django.contrib.auth import get_user_model; from chat import access\n"
        f"people = [get_user_model().objects.get(username=n) for n in {members!r}]\n"
        f"print(access.create_room(people[0], {slug_name!r}, 'private', people[1:]).slug)"
    )
    return server.manage("shell", "-c", code).strip().splitlines()[-1]


def shown_files(driver):
    """Each line's file: ('image', name, width attr, height attr, loaded) or
    ('file', name, size and type)."""
    return driver.execute_script(
        """
        return $("#messages .message").map(function () {
          var $img = $(this).find(".attachment-image img");
          if ($img.length) {
            return [["image", $img.attr("alt"), $img.attr("width"), $img.attr("height"),
                     $img[0].complete && $img[0].naturalWidth > 0]];
          }
          var $file = $(this).find(".attachment-download");
          var meta = $(this).find(".attachment-meta").text();
          return $file.length ? [["file", $file.text(), meta]] : [];
        }).get();
        """
    )


def test_a_pasted_screenshot_and_a_dropped_file_reach_the_room_and_stay(server, browsers):
    tag = uuid.uuid4().hex[:6]
    alice, bob, carol = (f"{name}_{tag}" for name in ("alice", "bob", "carol"))
    server.create_users([alice, bob, carol], DEMO_PASSWORD)
    room = private_room(server, [alice, bob])
    sender = enter_room(switchable(browsers.new()), server.url, alice, room)
    reader = enter_room(browsers.new(), server.url, bob, room)

    screenshot = base64.b64encode(files.png(1000, 500)).decode()
    type_message(sender, "the bug")
    sender.execute_script(PASTE, screenshot, "image.png", "image/png")
    notes = base64.b64encode(b"steps to reproduce\n" * 50).decode()
    sender.execute_script(DROP, notes, "steps.txt", "text/plain")

    expected = [
        ["image", "image.png", "480", "240", True],  # 1000 x 500 shown within 480 x 480
        ["file", "steps.txt", "950 bytes · text/plain"],
    ]
    for page in (reader, sender):
        wait_for(page, lambda d: shown_files(d) == expected, 30, "the picture and the file")
    assert f"{alice}: the bug" in lines(reader)  # the caption is the first file's text
    assert not sender.find_elements("css selector", "#messages .message.pending")
    assert sender.find_element("id", "message-input").get_attribute("value") == ""
    full = reader.find_element("css selector", ".attachment-image").get_attribute("href")
    assert reader.execute_async_script(STATUS_OF, full) == 200

    # A reload (history) and a reconnect (changes since) keep them, once each.
    reader.refresh()
    wait_ready(reader)
    wait_for(reader, lambda d: shown_files(d) == expected, 30, "the files after a reload")
    offline(sender, cut=True)
    offline(sender, off=False)
    wait_ready(sender)
    wait_for(sender, lambda d: shown_files(d) == expected, 30, "the files after a reconnect")

    # carol may not read the room: the file is not found for her.
    outsider = enter_room(browsers.new(), server.url, carol, "general")
    assert outsider.execute_async_script(STATUS_OF, full) == 404


def test_a_refused_file_shows_why_and_can_be_discarded(server, browsers, fresh_room):
    tag = uuid.uuid4().hex[:6]
    alice = f"alice_{tag}"
    server.create_users([alice], DEMO_PASSWORD)
    page = enter_room(browsers.new(), server.url, alice, fresh_room)
    page.execute_script(DROP, base64.b64encode(files.SVG_WITH_SCRIPT).decode(), "x.svg", "")
    wait_for(
        page,
        lambda d: d.find_elements("css selector", "#messages .message.upload.failed"),
        20,
        "the refused file",
    )
    state = page.find_element("css selector", ".message.upload.failed .message-state").text
    assert "image/svg+xml" in state and "not allowed" in state
    page.find_element("css selector", ".message.upload.failed .discard").click()
    wait_for(page, lambda d: not d.find_elements("css selector", "#messages .message.upload"))
