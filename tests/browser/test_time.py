"""Times in the reader's time zone: HH:MM on every message and notice, the full
date on hover, and a day separator before the first line of each local day."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.support.browser import (
    log_in,
    post_messages,
    set_time_zone,
    wait_line,
    wait_ready,
)

pytestmark = pytest.mark.browser

# Far from the server's UTC, so a mix-up of zones shows in hours and in days.
ZONE = ZoneInfo("Pacific/Auckland")

TIMELINE = """
return $("#messages").children().map(function () {
  var $el = $(this), $time = $el.children("time");
  if ($el.hasClass("day-separator")) { return [["day", $el.text()]]; }
  return [[$el.hasClass("message") ? "message" : "notice",
           $el.hasClass("message") ? $el.children(".text").text() : $el.text(),
           $time.attr("datetime"), $time.text() || $time.attr("data-time"), $time.attr("title"),
           getComputedStyle($time[0], "::before").content]];
}).get();
"""


def test_times_and_days_are_the_readers(server, browser, fresh_room):
    now = datetime.now(ZONE).replace(microsecond=0)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    three_days_ago = (midnight - timedelta(days=3)).replace(hour=12, minute=34)
    late_yesterday = (midnight - timedelta(days=1)).replace(hour=23, minute=58)
    today = max(now - timedelta(seconds=5), midnight)
    post_messages(
        server,
        fresh_room,
        [
            ("bob", "three days ago", three_days_ago),
            ("bob", "late yesterday", late_yesterday),
            ("carol", "today", today),
        ],
    )
    set_time_zone(browser, "Pacific/Auckland")
    log_in(browser, server.url, "alice")
    browser.get(f"{server.url}/chat/{fresh_room}/")
    wait_ready(browser)
    wait_line(browser, "alice has joined the chat")

    shown = browser.execute_script(TIMELINE)
    days = [line for line in shown if line[0] == "day"]
    long_date = f"{three_days_ago:%A, %B} {three_days_ago.day}, {three_days_ago.year}"
    assert days == [
        ["day", long_date],
        ["day", "Yesterday"],
        ["day", "Today"],
    ]
    assert [line[1] for line in shown] == [
        days[0][1],
        "three days ago",
        "Yesterday",
        "late yesterday",
        "Today",
        "today",
        "alice has joined the chat",
    ]
    messages = [line for line in shown if line[0] == "message"]
    for (_, _, iso, hhmm, title, _), sent in zip(
        messages, (three_days_ago, late_yesterday, today), strict=True
    ):
        assert datetime.fromisoformat(iso.replace("Z", "+00:00")) == sent
        assert hhmm == f"{sent:%H:%M}"  # Auckland's wall clock, not the server's UTC
        assert f"{sent:%B} {sent.day}, {sent.year}" in title  # the full date on hover

    # The notice shows when it arrived, in the same form, without changing its text.
    _, text, iso, hhmm, title, drawn = shown[-1]
    arrived = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    assert abs(arrived - datetime.now(UTC)) < timedelta(minutes=1)
    assert hhmm == f"{arrived.astimezone(ZONE):%H:%M}"
    assert drawn == f'"{hhmm}"'
    assert text == "alice has joined the chat"


def test_a_new_day_gets_its_separator_live(server, browser, fresh_room):
    """A message of today after yesterday's history: "Today" comes in just before it."""
    post_messages(server, fresh_room, [("bob", "yesterday's", datetime.now(UTC) - timedelta(1))])
    log_in(browser, server.url, "alice")
    browser.get(f"{server.url}/chat/{fresh_room}/")
    wait_ready(browser)
    box = browser.find_element("id", "message-input")
    box.send_keys("today's\n")
    wait_line(browser, "alice: today's")
    labels = browser.execute_script(
        "return $('#messages').children().map(function () {"
        "  return $(this).hasClass('day-separator') ? '|' + $(this).text() : $(this).text();"
        "}).get();"
    )
    assert [label for label in labels if label.startswith("|")] == ["|Yesterday", "|Today"]
    assert labels.index("|Today") < labels.index("alice has joined the chat")
