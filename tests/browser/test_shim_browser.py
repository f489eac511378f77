"""The jQuery Socket.IO shim itself, driven from a real page in Chromium."""

import pytest

from tests.support.browser import log_in, switchable, wait_for, wait_ready

pytestmark = pytest.mark.browser


@pytest.fixture
def page(server, browser):
    log_in(browser, server.url, "alice")
    browser.get(server.url + "/chat/random/")
    wait_for(browser, lambda d: d.execute_script("return window.chatReady === true"))
    browser.set_script_timeout(15)
    return browser


def run_async(driver, body):
    """Run ``body`` with ``done(result)`` in scope; returns the result."""
    return driver.execute_async_script("var done = arguments[arguments.length - 1];\n" + body)


def test_emits_before_the_connect_are_queued_and_acked(page):
    answer = run_async(
        page,
        """
        var s = $.socketio({auth: function () { return {room: "random"}; }});
        s.emit("message", {text: "sent before the namespace was connected"}, function (a) {
          s.close(); done(a);
        });
        """,
    )
    assert answer["ok"] is True
    assert isinstance(answer["id"], int)


def test_refused_connect_is_final_and_carries_the_message(page):
    result = run_async(
        page,
        """
        var retries = 0;
        var s = $.socketio({auth: function () { return {room: "no-such-room"}; }});
        s.on("reconnecting", function () { retries += 1; });
        s.on("connect_error", function (message) {
          // Wait past the first reconnect delay: nothing must retry.
          setTimeout(function () { done({message: message, retries: retries,
                                          open: s.ws !== null}); }, 2500);
        });
        """,
    )
    assert result == {
        "message": "There is no chat room 'no-such-room'.",
        "retries": 0,
        "open": False,
    }


def test_an_attempt_the_browser_blocks_is_retried_without_waiting_for_the_open_timeout(page):
    """Chromium ends an attempt it blocks itself (here the page's CSP: the test
    switch points the socket at another port) with "error" and no "close". The
    shim must count that as a failed attempt and try again on its usual delay,
    not sit until openTimeout (20 s, past this script's 15 s timeout)."""
    switchable(page).refresh()
    wait_ready(page)
    result = run_async(
        page,
        r"""
        sessionStorage.setItem("d09-test-offline", "1");
        var reasons = [];
        var s = $.socketio({auth: function () { return {room: "random"}; }});
        s.on("reconnecting", function (attempt, delay, reason) {
          reasons.push(reason);
          sessionStorage.removeItem("d09-test-offline");  // the next attempt reaches the server
        });
        s.on("connect", function () {
          var blocked = window.d09Sockets.filter(function (ws) { return /:9\//.test(ws.url); });
          s.close();
          done({reasons: reasons, blocked: blocked.length});
        });
        """,
    )
    assert result == {"reasons": ["transport error"], "blocked": 1}


def test_oversized_messages_are_refused_locally(page):
    answer = run_async(
        page,
        """
        var s = $.socketio({auth: function () { return {room: "random"}; }});
        s.on("connect", function () {
          var sent = s.emit("message", {text: "é".repeat(40000)}, function (a) {
            done({sent: sent, answer: a, connected: s.connected});
          });
        });
        """,
    )
    assert answer["answer"] == {"ok": False, "error": "This message is too large to send."}
    assert answer["connected"] is True


def test_unknown_events_reach_handlers_and_acks_route_by_id(page):
    answers = run_async(
        page,
        """
        var s = $.socketio({auth: function () { return {room: "random"}; }});
        var got = [];
        s.on("connect", function () {
          s.emit("nope", {}, function (a) { got.push(["nope", a]); finish(); });
          s.emit("message", {text: "  "}, function (a) { got.push(["blank", a]); finish(); });
        });
        function finish() { if (got.length === 2) { s.close(); done(got); } }
        """,
    )
    assert dict((name, answer["error"]) for name, answer in answers) == {
        "nope": "Unknown event 'nope'.",
        "blank": "The message is empty.",
    }


def test_another_namespace_connects_gets_its_events_and_routes_acks(page):
    """``namespace: "/lobby"``: CONNECT 40/lobby,{}; events and acks carry the
    namespace; the page's own socket on "/" goes on."""
    result = run_async(
        page,
        """
        var s = $.socketio({namespace: "/lobby"});
        var got = {};
        s.on("rooms", function (rooms) {
          got.rooms = $.map(rooms, function (room) { return room.room; });
          s.emit("nope", {}, function (a) {
            got.ack = a;
            s.close();
            done(got);
          });
        });
        """,
    )
    assert {"general", "random", "cats"} <= set(result["rooms"])
    assert result["ack"] == {"ok": False, "error": "Unknown event 'nope'."}
    assert page.execute_script("return window.chatReady") is True


# A WebSocket stand-in for the shim: records what the shim sends and plays a
# server that answers the namespace CONNECT, then sends a binary event and a
# binary ack, each with its attachment in a frame of its own.
FAKE_SERVER = """
var sent = [];
var RealWebSocket = window.WebSocket;
function FakeSocket() {
  var ws = this;
  ws.readyState = 1;
  ws.send = function (frame) {
    sent.push(typeof frame === "string" ? frame : Array.from(new Uint8Array(frame)));
    if (frame === "40{}") {
      ws.deliver("40{\\"sid\\":\\"x\\"}");
      ws.deliver("451-[\\"picture\\",{\\"name\\":\\"a\\",\\"data\\":{\\"_placeholder\\":true,\\"num\\":0}}]");
      ws.deliver(new Uint8Array([1, 2, 3]).buffer);
    } else if (typeof frame !== "string") {
      ws.deliver("461-0[{\\"ok\\":true,\\"echo\\":{\\"_placeholder\\":true,\\"num\\":0}}]");
      ws.deliver(new Uint8Array([9, 8]).buffer);
    }
  };
  ws.close = function () {};
  ws.deliver = function (data) {
    setTimeout(function () { ws.onmessage({ data: data }); }, 0);
  };
  ws.deliver("0{\\"sid\\":\\"e\\",\\"pingInterval\\":25000,\\"pingTimeout\\":20000,\\"maxPayload\\":100}");
}
window.WebSocket = FakeSocket;
window.WebSocket.OPEN = 1;
var s = $.socketio({});
window.WebSocket = RealWebSocket;
"""


def test_binary_events_both_ways_as_socket_io_v5_binary_packets(page):
    result = run_async(
        page,
        FAKE_SERVER
        + """
        s.on("picture", function (data) {
          var bytes = Array.from(new Uint8Array(data.data));
          s.emit("upload", {offset: 0, data: new Uint8Array([5, 6, 7])}, function (answer) {
            var tooBig = s.emit("upload", {data: new Uint8Array(101)}, function () {});
            done({name: data.name, bytes: bytes, ok: answer.ok,
                  echo: Array.from(new Uint8Array(answer.echo)), sent: sent, tooBig: tooBig});
          });
        });
        """,
    )
    assert result == {
        "name": "a",
        "bytes": [1, 2, 3],
        "ok": True,
        "echo": [9, 8],
        "sent": [
            "40{}",
            '451-0["upload",{"offset":0,"data":{"_placeholder":true,"num":0}}]',
            [5, 6, 7],
        ],
        "tooBig": False,  # an attachment over maxPayload is refused before anything is sent
    }
