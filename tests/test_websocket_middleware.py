"""d09.websocket_middleware: permessage-deflate is off unless WS_COMPRESSION=1."""

import pytest

from d09.websocket_middleware import EXTENSIONS_KEY, WebSocketCompressionMiddleware

OFFER = "permessage-deflate; client_max_window_bits"


def handshake_environ():
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/socket.io/",
        "QUERY_STRING": "EIO=4&transport=websocket",
        "HTTP_UPGRADE": "websocket",
        "HTTP_CONNECTION": "Upgrade",
        EXTENSIONS_KEY: OFFER,
    }


def seen_by_app(middleware):
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        return [b"ok"]

    middleware.app = app
    assert middleware(handshake_environ(), lambda *a: None) == [b"ok"]
    return seen


def test_the_offer_is_removed_by_default(monkeypatch):
    monkeypatch.delenv("WS_COMPRESSION", raising=False)
    seen = seen_by_app(WebSocketCompressionMiddleware(None))
    assert EXTENSIONS_KEY not in seen
    assert seen["HTTP_UPGRADE"] == "websocket"  # the rest of the handshake is untouched


@pytest.mark.parametrize("value", ["1", "true", "yes"])
def test_ws_compression_keeps_the_offer(monkeypatch, value):
    monkeypatch.setenv("WS_COMPRESSION", value)
    seen = seen_by_app(WebSocketCompressionMiddleware(None))
    assert seen[EXTENSIONS_KEY] == OFFER


def test_explicit_argument_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv("WS_COMPRESSION", "1")
    assert EXTENSIONS_KEY not in seen_by_app(
        WebSocketCompressionMiddleware(None, allow_compression=False)
    )


def test_requests_without_an_offer_pass_through(monkeypatch):
    monkeypatch.delenv("WS_COMPRESSION", raising=False)
    middleware = WebSocketCompressionMiddleware(lambda environ, start: [environ["PATH_INFO"]])
    assert middleware({"PATH_INFO": "/account"}, None) == ["/account"]
