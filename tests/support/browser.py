"""Headless Chromium (Debian's chromium + chromium-driver) through Selenium, and
what the browser tests do with it: emulation, screenshots, the chat page as a
person uses it."""

import contextlib
import json
import re
import shutil
import tempfile
import uuid
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.server import DEMO_PASSWORD

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
# Screenshots of a test run (never committed); kept after the run, like the server logs.
ARTIFACTS_DIR = Path(tempfile.gettempdir()) / "d09-test-artifacts"
DESKTOP = (1200, 900)
PHONE = (390, 844)


def new_driver():
    profile = tempfile.mkdtemp(prefix="d09-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--lang=en-US",  # dates are checked in English
        f"--window-size={DESKTOP[0]},{DESKTOP[1]}",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    # The page's console (errors, CSP violations, console.log) for failing tests.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.profile_dir = profile
    driver.console = []  # what was read from the browser's log so far
    return driver


def console(driver):
    """Everything the page logged so far (the browser hands each entry out once)."""
    # A browser that is gone keeps what was read from it before.
    with contextlib.suppress(WebDriverException):
        driver.console.extend(driver.get_log("browser"))
    return driver.console


def console_text(driver):
    return "\n".join(f"{e['level']} {e['message']}" for e in console(driver)) or "(empty)"


def wait_for(driver, condition, timeout=20, message=""):
    # An element found just before the page re-renders it (the user list after a
    # reconnect) is stale: look again at the next poll instead of failing.
    def polled(d):
        try:
            return condition(d)
        except WebDriverException as error:
            # Chromium's other word for stale, asked while a document is replaced.
            if "does not belong to the document" in str(error):
                return False
            raise

    return WebDriverWait(
        driver, timeout, poll_frequency=0.05, ignored_exceptions=[StaleElementReferenceException]
    ).until(polled, message)


def another_page_loaded(driver):
    """Mark the page shown now; a condition that holds once another one has loaded.

    An element of the old page can't tell: while Chromium swaps documents, asking
    about it fails with errors other than a stale reference ("Node with given id
    does not belong to the document")."""
    driver.execute_script("window.d09TestOldPage = true;")

    def loaded(d):
        try:
            return d.execute_script(
                "return window.d09TestOldPage === undefined && document.readyState === 'complete';"
            )
        except WebDriverException:  # asked while one document gave way to the next
            return False

    return loaded


class BrowserFactory:
    def __init__(self):
        self.drivers = []

    def new(self):
        driver = new_driver()
        self.drivers.append(driver)
        return driver

    def quit_all(self):
        for driver in self.drivers:
            try:
                driver.quit()
            finally:
                shutil.rmtree(driver.profile_dir, ignore_errors=True)
        self.drivers = []


# Chrome DevTools emulation: the reader's system, as the page sees it.


def set_color_scheme(driver, scheme):
    """Make the page see prefers-color-scheme: light or dark."""
    driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": scheme}]},
    )


def set_theme(driver, scheme):
    """The system turns light or dark; returns once the page has followed."""
    set_color_scheme(driver, scheme)
    wait_for(
        driver,
        lambda d: d.execute_script("return document.documentElement.dataset.bsTheme") == scheme,
        message=f"{scheme} theme",
    )


def set_phone(driver, phone=True):
    """A 390 x 844 phone screen (mobile viewport), or back to the desktop window."""
    if phone:
        width, height = PHONE
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 2, "mobile": True},
        )
    else:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def set_time_zone(driver, zone):
    driver.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": zone})


def save_screenshot(driver, name):
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS_DIR / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


# The account and chat pages, as a person uses them.


def click(driver, element):
    """Click ``element`` as a person would, after scrolling it to the middle of
    the window at once: Bootstrap makes scrolling smooth, and a click that
    WebDriver aims while the page still glides lands elsewhere (a long room list
    puts its forms and links far below the fold)."""
    driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", element
    )
    element.click()


def log_in(driver, server_url, username, password=DEMO_PASSWORD):
    """Log in through the account page's form, as a person would."""
    driver.get(server_url + "/account")
    form = driver.find_element("css selector", "form#login-form")
    form.find_element("name", "username").send_keys(username)
    form.find_element("name", "password").send_keys(password)
    form.find_element("css selector", "[type=submit]").click()
    wait_for(
        driver,
        lambda d: d.find_element("id", "logged-in").is_displayed(),
        message=f"{username} logged in",
    )


def wait_ready(driver, message="chat ready"):
    wait_for(driver, lambda d: d.execute_script("return window.chatReady === true"), 20, message)


def enter_room(driver, server_url, username, room):
    log_in(driver, server_url, username)
    driver.get(f"{server_url}/chat/{room}/")
    wait_ready(driver, message=f"{username} ready in {room}")
    return driver


def type_message(driver, text):
    """Type into the composer as a person would: Shift+Enter between lines."""
    box = driver.find_element("id", "message-input")
    for number, part in enumerate(text.split("\n")):
        if number:
            box.send_keys(Keys.SHIFT, Keys.ENTER)  # the modifier is let go after each call
        box.send_keys(part)
    return box


def say(driver, text):
    """Type a message and press Send; returns once the server stored it: the
    input is cleared (at once) and no line of the reader's is pending any more."""
    type_message(driver, text)
    driver.find_element("id", "send-button").click()
    wait_for(
        driver,
        lambda d: (
            d.find_element("id", "message-input").get_attribute("value") == ""
            and not d.find_elements("css selector", "#messages .message.pending")
        ),
        message="input cleared and the message stored",
    )


def submit(driver, text):
    """Send ``text`` through the composer's form at once, whatever it is (even
    what the textarea would not let anyone type); waits for nothing."""
    driver.execute_script(
        "$('#message-input').val(arguments[0]); $('#message-form').trigger('submit');", text
    )


def lines(driver):
    """What #messages shows, one string per line: 'author: text' or the notice
    (day separators, the unread divider and the top of the box left out)."""
    return driver.execute_script(
        """
        return $("#messages").children(".message, .notice").map(function () {
          var $el = $(this);
          return $el.hasClass("message")
            ? $el.find(".author").text() + ": " + $el.find(".text").text()
            : $el.text();
        }).get();
        """
    )


def users(driver):
    """The names in the user list, read in one go (no element can go stale)."""
    return driver.execute_script(
        "return $('#users li').map(function () { return this.textContent; }).get();"
    )


def wait_line(driver, line, timeout=10):
    wait_for(driver, lambda d: line in lines(d), timeout, message=f"line {line!r}")


def unique(text):
    return f"{text} {uuid.uuid4().hex[:6]}"


def post_messages(server, room, messages):
    """Store messages as if they had been sent at the given times:
    ``[(username, text, aware datetime), ...]``, oldest first."""
    rows = [(user, text, created.isoformat()) for user, text, created in messages]
    server.manage(
        "shell",
        "-c",
        "import datetime\n"
        "from django.contrib.auth import get_user_model\n"
        "from chat.models import Message, Room\n"
        f"room = Room.objects.get(slug={room!r})\n"
        f"for user, text, created in {rows!r}:\n"
        "    m = Message.objects.create(room=room, text=text,\n"
        "        author=get_user_model().objects.get(username=user))\n"
        "    Message.objects.filter(pk=m.pk).update(\n"
        "        created=datetime.datetime.fromisoformat(created))\n",
    )


# The page's wire, for tests that must know what it sent or lose what it gets.

# Installed before any page script runs (DevTools, so the page's CSP does not
# apply): every frame the page sends is kept in window.d09Sent, every frame it
# receives in window.d09Received, and incoming frames matching window.d09Drop
# (a regular expression's source) are dropped before the page sees them, as if
# the network had lost them. window.d09Deliver(frame) hands a frame to the
# page's newest open socket as if it had just arrived (a frame that the network
# held back, delivered late).
WIRE_TAP = """
(function () {
  window.d09Sent = [];
  window.d09Received = [];
  window.d09Drop = null;
  var newest = null;
  var send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    window.d09Sent.push(String(data));
    return send.call(this, data);
  };
  var onmessage = Object.getOwnPropertyDescriptor(WebSocket.prototype, "onmessage");
  Object.defineProperty(WebSocket.prototype, "onmessage", {
    configurable: true,
    get: onmessage.get,
    set: function (handler) {
      var ws = this;
      newest = { ws: ws, handler: handler };
      onmessage.set.call(this, function (event) {
        if (typeof event.data === "string") {
          window.d09Received.push(event.data);
        }
        if (window.d09Drop && typeof event.data === "string" &&
            new RegExp(window.d09Drop).test(event.data)) {
          return undefined;
        }
        return handler.call(this, event);
      });
    }
  });
  window.d09Deliver = function (frame) {
    newest.handler.call(newest.ws, new MessageEvent("message", { data: frame }));
  };
})();
"""


def tap_the_wire(driver):
    """Record what this browser's pages send, and let a test drop what they get
    (``window.d09Drop``); for every page loaded from now on."""
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WIRE_TAP})
    return driver


def events_in(frames, name):
    """The payloads of the ``name`` events among Socket.IO frames."""
    found = []
    for frame in frames:
        match = re.match(r"42(?:/[^,]*,)?\d*(\[.*)", frame, re.S)
        if match:
            event = json.loads(match.group(1))
            if event[0] == name:
                found.append(event[1] if len(event) > 1 else None)
    return found


def sent_events(driver, name, window="window"):
    """The payloads of the ``name`` events the page sent (``window``: another
    window's expression, e.g. ``window.opener``)."""
    return events_in(driver.execute_script(f"return {window}.d09Sent || []"), name)


def received_frames(driver, name):
    """The frames of the ``name`` events the page received, as they came."""
    return [
        frame
        for frame in driver.execute_script("return window.d09Received || []")
        if events_in([frame], name)
    ]


# Installed the same way: while the tab's sessionStorage holds "d09-test-offline",
# the page's WebSockets go to a port where nothing listens (the chat is
# unreachable, the pages are not). window.d09Sockets holds the page's sockets,
# so that a test can cut the ones open.
OFFLINE_SWITCH = """
(function () {
  var Native = window.WebSocket;
  window.d09Sockets = [];
  function Switched(url, protocols) {
    if (window.sessionStorage.getItem("d09-test-offline")) {
      url = url.replace(/\\/\\/[^\\/]+/, "//127.0.0.1:9");
    }
    var ws = protocols === undefined ? new Native(url) : new Native(url, protocols);
    window.d09Sockets.push(ws);
    return ws;
  }
  Switched.prototype = Native.prototype;
  ["CONNECTING", "OPEN", "CLOSING", "CLOSED"].forEach(function (name) {
    Switched[name] = Native[name];
  });
  window.WebSocket = Switched;
})();
"""


def switchable(driver):
    """Let the test take this browser's chat offline (``offline``), for every page
    loaded from now on."""
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": OFFLINE_SWITCH})
    return driver


def offline(driver, off=True, cut=False):
    """Make the chat's socket unreachable from this tab (from its next attempt
    on; ``cut``: the open ones are closed now, as a network that drops does), or
    reachable again."""
    if off:
        driver.execute_script("sessionStorage.setItem('d09-test-offline', '1')")
    else:
        driver.execute_script("sessionStorage.removeItem('d09-test-offline')")
    if cut:
        driver.execute_script("window.d09Sockets.forEach(function (ws) { ws.close(); });")


def make_staff(server, username):
    """A staff user (``is_staff``) who logs in with the demo password (made if missing)."""
    server.create_users([username], DEMO_PASSWORD)
    server.manage(
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model; "
        f"get_user_model().objects.filter(username={username!r}).update(is_staff=True)",
    )
    return username


# Installed the same way: when the page opens WebSockets (window.d09Opened, a
# time each) and when a server_restart notice reached it (window.d09Restarts,
# {at, retry_after} each), by the page's own clock.
RESTART_WATCH = """
(function () {
  var Native = window.WebSocket;
  window.d09Opened = [];
  window.d09Restarts = [];
  function Watched(url, protocols) {
    window.d09Opened.push(Date.now());
    var ws = protocols === undefined ? new Native(url) : new Native(url, protocols);
    ws.addEventListener("message", function (event) {
      var match = typeof event.data === "string" &&
        /^42(?:\\/[^,]*,)?\\["server_restart",(.*)\\]$/.exec(event.data);
      if (match) {
        window.d09Restarts.push({ at: Date.now(), retry_after: JSON.parse(match[1]).retry_after });
      }
    });
    return ws;
  }
  Watched.prototype = Native.prototype;
  ["CONNECTING", "OPEN", "CLOSING", "CLOSED"].forEach(function (name) {
    Watched[name] = Native[name];
  });
  window.WebSocket = Watched;
})();
"""


def watch_restarts(driver):
    """Record this browser's WebSocket openings and the restart notices it gets
    (``restart_watch``), for every page loaded from now on."""
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RESTART_WATCH})
    return driver


def restart_watch(driver):
    """``(notices, openings)``: the restart notices ``[{at, retry_after}]`` and
    the times WebSockets were opened, in ms of the page's clock."""
    return driver.execute_script("return [window.d09Restarts, window.d09Opened]")
