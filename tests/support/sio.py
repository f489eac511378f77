"""A standard Socket.IO client (python-socketio) wired for assertions."""

import threading

import socketio

from tests.support.server import wait_until


class ChatClient:
    """One chat connection; records every server event as ``(name, data)``.

    python-socketio's threaded client may hand events to handlers out of order,
    so tests wait for what they need instead of relying on arrival order.
    """

    def __init__(self, url, logged_in=None, room="general", after=None, origin=None, auth=None):
        self.events = []
        self.connect_errors = []
        self._lock = threading.Lock()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("*", self._record)
        self.sio.on("connect_error", self.connect_errors.append)
        self.headers = dict(logged_in.headers) if logged_in else {}
        if origin:
            self.headers["Origin"] = origin
        if auth is None:
            auth = {"room": room} if after is None else {"room": room, "after": after}
        self.url = url
        self.auth = auth

    def connect(self):
        self.sio.connect(
            self.url,
            headers=self.headers,
            auth=self.auth,
            transports=["websocket"],
            wait_timeout=10,
        )
        return self

    def _record(self, event, *args):
        with self._lock:
            self.events.append((event, args[0] if args else None))

    def of(self, name):
        with self._lock:
            return [data for event, data in self.events if event == name]

    def wait_for(self, name, predicate=lambda data: True, timeout=10):
        matches = wait_until(
            lambda: [d for d in self.of(name) if predicate(d)],
            timeout=timeout,
            message=f"event {name!r}",
        )
        return matches[0]

    def users(self):
        """The latest user list received."""
        lists = self.of("users")
        return lists[-1] if lists else None

    def wait_users(self, expected, timeout=10):
        wait_until(lambda: self.users() == expected, timeout=timeout, message=f"users {expected}")

    def send(self, text, timeout=10):
        """Post a chat message; returns the server's ack."""
        return self.call({"text": text}, timeout=timeout)

    def call(self, payload, timeout=10):
        """Emit ``message`` with any payload at all; returns the ack."""
        return self.sio.call("message", payload, timeout=timeout)

    def close(self):
        if self.sio.connected:
            self.sio.disconnect()


def connected(url, logged_in, room="general", **kwargs):
    return ChatClient(url, logged_in, room=room, **kwargs).connect()


def refusal_of(url, **kwargs):
    """Why a connection was refused: the server's message, or the HTTP error."""
    client = ChatClient(url, **kwargs)
    try:
        client.connect()
    except socketio.exceptions.ConnectionError as error:
        reasons = [
            str(e.get("message", e) if isinstance(e, dict) else e) for e in client.connect_errors
        ]
        return " ".join(reasons) or str(error)
    client.close()
    raise AssertionError("the connection was accepted")
