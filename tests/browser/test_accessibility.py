"""Accessibility and themes: axe-core finds no serious or critical violation on the
account page, the room list and a room, light and dark; the theme follows the
system; the pages run without a console error (a CSP violation is one).

axe-core comes from npm (tests/browser/package.json; `make test` runs `npm ci`)
and is injected by the test: the app never serves it."""

from pathlib import Path

import pytest
from selenium.webdriver.common.action_chains import ActionChains

from tests.support.browser import (
    console,
    enter_room,
    log_in,
    make_staff,
    say,
    set_color_scheme,
    set_phone,
    set_theme,
    type_message,
    unique,
    wait_for,
    wait_line,
    wait_ready,
)

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="session")
def axe_source():
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `make test` (it runs npm ci in tests/browser)")
    return AXE.read_text()


def serious_violations(driver, axe_source):
    """axe-core's serious and critical findings on the current page, readable."""
    # Colours half-way through a transition (a button just hovered) are no one's theme.
    wait_for(
        driver,
        lambda d: d.execute_script(
            "return document.getAnimations().every(function (a) {"
            "  return a.playState !== 'running'; });"
        ),
        message="transitions over",
    )
    driver.execute_script(axe_source)
    driver.set_script_timeout(30)
    results = driver.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        "axe.run(document).then(function (r) { done([r.passes.length, r.violations]); },"
        "                       function (e) { done([0, String(e)]); });"
    )
    passed, violations = results
    assert passed > 10, f"axe-core did not run: {violations}"
    return [
        f"{v['impact']} {v['id']}: {v['help']} -> "
        + "; ".join(
            " ".join(n["target"]) + " (" + n.get("failureSummary", "") + ")" for n in v["nodes"][:5]
        )
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_serious_accessibility_violations(server, browsers, fresh_room, axe_source, scheme):
    found = {}
    alice = browsers.new()
    set_color_scheme(alice, scheme)
    alice.get(server.url + "/account")
    set_theme(alice, scheme)
    found["/account (logged out)"] = serious_violations(alice, axe_source)

    enter_room(alice, server.url, "alice", fresh_room)
    enter_room(browsers.new(), server.url, "bob", fresh_room)
    wait_line(alice, "bob has joined the chat")
    say(alice, unique("a message\nover two lines"))
    set_theme(alice, scheme)
    found["room page"] = serious_violations(alice, axe_source)
    set_phone(alice)
    alice.find_element("id", "users-toggle").click()
    wait_for(alice, lambda d: d.find_element("id", "users").is_displayed())
    found["room page (phone, user list open)"] = serious_violations(alice, axe_source)
    set_phone(alice, False)

    alice.get(server.url + "/chat/")
    set_theme(alice, scheme)
    found["/chat/"] = serious_violations(alice, axe_source)

    alice.get(server.url + "/account")
    set_theme(alice, scheme)
    found["/account (logged in)"] = serious_violations(alice, axe_source)

    problems = [f"{page}: {v}" for page, vs in found.items() for v in vs]
    assert not problems, "\n".join(problems)


def test_the_messages_are_a_log_region(server, browser, fresh_room):
    enter_room(browser, server.url, "alice", fresh_room)
    log = browser.find_element("id", "messages")
    assert log.get_attribute("role") == "log"
    assert log.get_attribute("aria-label") == f"Messages in #Test room {fresh_room}"
    assert log.get_attribute("tabindex") == "0"  # keyboard users can scroll it


def test_the_theme_follows_the_system(server, browser):
    def page_colours(driver):
        return driver.execute_script(
            "return [document.documentElement.dataset.bsTheme,"
            "        getComputedStyle(document.body).backgroundColor];"
        )

    set_color_scheme(browser, "light")
    browser.get(server.url + "/account")
    assert page_colours(browser) == ["light", "rgb(255, 255, 255)"]
    # The system turns dark while the page is open: the page follows at once.
    set_color_scheme(browser, "dark")
    wait_for(browser, lambda d: page_colours(d) == ["dark", "rgb(33, 37, 41)"])
    browser.refresh()
    assert page_colours(browser) == ["dark", "rgb(33, 37, 41)"]
    set_color_scheme(browser, "light")
    wait_for(browser, lambda d: page_colours(d)[0] == "light")


def test_pages_run_without_console_errors(server, browsers, fresh_room):
    """Errors in our scripts and Content-Security-Policy violations land in the console."""
    alice = browsers.new()
    log_in(alice, server.url, "alice")  # the account page, logged out then in
    alice.get(server.url + "/chat/")
    alice.get(f"{server.url}/chat/{fresh_room}/")
    wait_ready(alice)
    enter_room(browsers.new(), server.url, "bob", fresh_room)
    wait_line(alice, "bob has joined the chat")
    errors = [entry for entry in console(alice) if entry["level"] == "SEVERE"]
    assert errors == []


def test_no_serious_violations_in_a_conversation(
    server, browsers, fresh_room, axe_source, carol_talks
):
    """A moderator's room with every control of issue 14 open at once: an edit
    under way, the "@" list, the moderation panel, a delete question, a mention,
    a deleted line, someone typing; light and dark."""
    mod = enter_room(browsers.new(), server.url, make_staff(server, "mod"), fresh_room)
    gone = carol_talks.post("soon gone")
    carol_talks.post("@mod have a look")
    assert carol_talks.call({"id": gone}, event="delete")["ok"]
    say(mod, "first words")
    say(mod, "second words")
    wait_for(mod, lambda d: d.find_elements("css selector", ".message.deleted"))
    own = mod.find_elements("css selector", ".message[data-user=mod]")
    ActionChains(mod).move_to_element(own[0]).click().perform()
    own[0].find_element("css selector", ".edit-message").click()
    ActionChains(mod).move_to_element(own[1]).click().perform()
    own[1].find_element("css selector", ".delete-message").click()
    assert carol_talks.call({"typing": True}, event="typing")["ok"]
    mod.find_element("css selector", "#users .moderate-user").click()
    type_message(mod, "@")
    wait_for(mod, lambda d: d.find_element("id", "mention-list").is_displayed())
    wait_for(mod, lambda d: d.find_element("id", "typing").text == "carol is typing…")
    found = {}
    for scheme in ("light", "dark"):
        set_theme(mod, scheme)
        found[scheme] = serious_violations(mod, axe_source)
    problems = [f"{scheme}: {v}" for scheme, vs in found.items() for v in vs]
    assert not problems, "\n".join(problems)
