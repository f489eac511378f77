"""The account page in a real headless Chromium against the real server.

"No reload" is proven by a marker stored on ``window`` before the action: a
reload would wipe it.
"""

import uuid

import pytest

from tests.support.browser import log_in, wait_for
from tests.support.server import DEMO_PASSWORD

pytestmark = pytest.mark.browser


def mark_window(driver):
    marker = uuid.uuid4().hex
    driver.execute_script("window.noReloadMarker = arguments[0];", marker)
    return marker


def still_same_page(driver, marker):
    return driver.execute_script("return window.noReloadMarker;") == marker


def visible(driver, css):
    elements = driver.find_elements("css selector", css)
    return bool(elements) and elements[0].is_displayed()


def fill_login(driver, username, password):
    form = driver.find_element("css selector", "form#login-form")
    for name, value in (("username", username), ("password", password)):
        field = form.find_element("name", name)
        field.clear()
        field.send_keys(value)
    form.find_element("css selector", "[type=submit]").click()


def logout(driver):
    driver.find_element("id", "logout-button").click()
    wait_for(driver, lambda d: visible(d, "form#login-form"), message="login form back")


def test_wrong_password_shows_error_without_reload(server, browser):
    browser.get(server.url + "/account")
    marker = mark_window(browser)
    fill_login(browser, "alice", "wrong-password")
    errors = wait_for(
        browser,
        lambda d: d.find_element("id", "login-errors").text,
        message="login errors",
    )
    assert "correct username and password" in errors
    assert still_same_page(browser, marker)
    assert not visible(browser, "#logged-in")


def test_errors_replace_earlier_errors(server, browser):
    browser.get(server.url + "/account")
    fill_login(browser, "alice", "wrong-password")
    wait_for(browser, lambda d: d.find_element("id", "login-errors").text)
    fill_login(browser, "", "")
    wait_for(browser, lambda d: "required" in d.find_element("id", "login-errors").text)
    items = browser.find_elements("css selector", "#login-errors li")
    assert [item.text for item in items] == [
        "Username: This field is required.",
        "Password: This field is required.",
    ]


def test_login_refresh_logout_login_logout_without_reload(server, browser):
    browser.get(server.url + "/account")
    marker = mark_window(browser)
    fill_login(browser, "alice", DEMO_PASSWORD)
    wait_for(browser, lambda d: visible(d, "#logged-in"), message="logged in")
    assert browser.find_element("id", "logged-in").text.startswith("Logged as alice")
    assert not visible(browser, "form#login-form")
    assert still_same_page(browser, marker)

    browser.refresh()
    assert browser.find_element("id", "logged-in").text.startswith("Logged as alice")
    assert not visible(browser, "form#login-form")

    marker = mark_window(browser)
    logout(browser)
    assert not visible(browser, "#logged-in")
    assert "Logged as" not in browser.find_element("tag name", "body").text
    assert browser.find_element("name", "username").get_attribute("value") == ""
    assert browser.find_element("id", "login-errors").text == ""

    # Django rotated the CSRF token twice by now: the page must keep up.
    fill_login(browser, "bob", DEMO_PASSWORD)
    wait_for(browser, lambda d: visible(d, "#logged-in"), message="logged in again")
    assert browser.find_element("id", "logged-in").text.startswith("Logged as bob")
    logout(browser)
    assert still_same_page(browser, marker)

    browser.refresh()
    assert visible(browser, "form#login-form")
    assert not visible(browser, "#logged-in")


def test_refresh_after_error_drops_the_error(server, browser):
    browser.get(server.url + "/account")
    fill_login(browser, "alice", "wrong-password")
    wait_for(browser, lambda d: d.find_element("id", "login-errors").text)
    browser.refresh()
    assert browser.find_element("id", "login-errors").text == ""
    assert visible(browser, "form#login-form")


def test_signup_logs_the_new_user_in_without_reload(server, browser):
    browser.get(server.url + "/account")
    marker = mark_window(browser)
    username = "user" + uuid.uuid4().hex[:8]
    form = browser.find_element("css selector", "form#signup-form")
    form.find_element("name", "username").send_keys(username)
    form.find_element("name", "password1").send_keys("a-long-pass-phrase")
    form.find_element("name", "password2").send_keys("a-long-pass-phrase")
    form.find_element("css selector", "[type=submit]").click()
    wait_for(browser, lambda d: visible(d, "#logged-in"), message="signed up")
    assert browser.find_element("id", "logged-in").text.startswith(f"Logged as {username}")
    assert still_same_page(browser, marker)


def test_signup_errors_are_shown(server, browser):
    browser.get(server.url + "/account")
    form = browser.find_element("css selector", "form#signup-form")
    form.find_element("name", "username").send_keys("alice")
    form.find_element("name", "password1").send_keys("123")
    form.find_element("name", "password2").send_keys("123")
    form.find_element("css selector", "[type=submit]").click()
    text = wait_for(browser, lambda d: d.find_element("id", "signup-errors").text)
    assert "already exists" in text
    assert "too short" in text
    assert visible(browser, "form#login-form")


def test_next_link_is_offered_after_login(server, browser):
    browser.get(server.url + "/chat/general/")
    assert "/account?next=/chat/general/" in browser.current_url
    log_in_url = browser.current_url
    fill_login(browser, "carol", DEMO_PASSWORD)
    wait_for(browser, lambda d: visible(d, "#next-link"), message="continue link")
    assert browser.find_element("id", "next-link").get_attribute("href").endswith("/chat/general/")
    assert browser.current_url == log_in_url


def test_log_in_helper_works(server, browser):
    log_in(browser, server.url, "alice")
    assert "Logged as alice" in browser.find_element("id", "logged-in").text
