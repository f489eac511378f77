"""The one Socket.IO client of the tests: python-socketio's, wired for assertions.

python-socketio's Client hands every event to a new thread, so its handlers may
run out of order; here they run in the reader thread instead, in wire order,
which is what the ordering tests compare.
"""

import threading
import time

import engineio
import socketio

from tests.support.server import wait_until


class _InOrderEngineIO(engineio.Client):
    def _trigger_event(self, event, *args, **kwargs):
        kwargs["run_async"] = False
        return super()._trigger_event(event, *args, **kwargs)


class _InOrderClient(socketio.Client):
    def _engineio_client_class(self):
        return _InOrderEngineIO


class ChatClient:
    """One chat connection; records every server event as ``(name, data)`` in
    arrival order."""

    def __init__(self, url, logged_in=None, room="general", after=None, origin=None, auth=None):
        self.user = logged_in.username if logged_in else None
        self.events = []  # (name, first argument)
        self.frames = []  # (name, every argument)
        self.connect_errors = []
        self._lock = threading.Lock()
        # websocket-client sends Origin: http://<host> unless told another one.
        options = {"origin": origin} if origin else {}
        self.sio = _InOrderClient(reconnection=False, websocket_extra_options=options)
        self.sio.on("*", self._record)
        self.sio.on("connect_error", self.connect_errors.append)
        self.headers = dict(logged_in.headers) if logged_in else {}
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
            wait_timeout=20,
        )
        return self

    def _record(self, event, *args):
        with self._lock:
            self.events.append((event, args[0] if args else None))
            self.frames.append((event, args))
            if event == "presence":  # a batch of notices: each counts as its own event
                for change in args[0]["changes"]:
                    notice = {key: value for key, value in change.items() if key != "event"}
                    self.events.append((change["event"], notice))

    def of(self, name):
        with self._lock:
            return [data for event, data in self.events if event == name]

    def who(self, name):
        """The users named by the ``joined`` or ``left`` notices received
        (alone or gathered in a ``presence`` event)."""
        return [data["user"] for data in self.of(name)]

    def message_ids(self):
        return [message["id"] for message in self.of("message")]

    def wait(self, condition, message, timeout=20):
        """Until ``condition(self)`` holds."""
        return wait_until(
            lambda: condition(self), timeout=timeout, message=f"{self.user}: {message}"
        )

    def wait_for(self, name, predicate=lambda data: True, timeout=10):
        """The first event ``name`` whose data satisfies ``predicate``."""
        matches = wait_until(
            lambda: [d for d in self.of(name) if predicate(d)],
            timeout=timeout,
            message=f"{self.user}: event {name!r}",
        )
        return matches[0]

    def users(self):
        """The room's user list as a page keeps it: the last whole list
        received (``users``), then the ``joined``/``left`` after it whose version
        is newer than the list's (README, "Event API")."""
        with self._lock:
            frames = list(self.frames)
        names, version = None, 0
        for event, change in self.presence_changes(frames):
            if event == "users":
                names, version = set(change["users"]), change["version"]
            elif names is not None and change.get("version", 0) > version:
                version = change["version"]
                (names.add if event == "joined" else names.discard)(change["user"])
        return None if names is None else sorted(names)

    def presence_changes(self, frames=None):
        """``(event, data)`` of every presence event in order, a ``presence``
        batch unfolded into its ``joined``/``left`` and a ``users`` list as
        ``{"users": [...], "version": v}``."""
        if frames is None:
            with self._lock:
                frames = list(self.frames)
        for event, args in frames:
            if event == "users":
                yield "users", {"users": args[0], "version": args[1]["version"]}
            elif event in ("joined", "left"):
                yield event, args[0]
            elif event == "presence":
                for change in args[0]["changes"]:
                    yield change["event"], change

    def wait_users(self, expected, timeout=10):
        self.wait(lambda client: client.users() == expected, f"users {expected}", timeout)

    def send(self, text, timeout=10):
        """Post a chat message; returns the server's ack."""
        return self.call({"text": text}, timeout=timeout)

    def post(self, text, timeout=20):
        """Post a chat message that must be accepted; returns its id."""
        answer = self.send(text, timeout=timeout)
        assert answer.get("ok"), answer
        return answer["id"]

    def call(self, payload, event="message", timeout=10):
        """Emit ``event`` (``message`` by default) with any payload; returns the ack."""
        return self.sio.call(event, payload, timeout=timeout)

    def close(self):
        if self.sio.connected:
            self.sio.disconnect()


def call_at_once(clients, payload, event="message", timeout=20):
    """Each of ``clients`` emits the same ``payload`` at the same moment (a
    barrier releases their threads together); their acks, in order."""
    answers = [None] * len(clients)
    start = threading.Barrier(len(clients))

    def call(index):
        start.wait()
        answers[index] = clients[index].call(payload, event=event, timeout=timeout)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return answers


class LobbyClient(ChatClient):
    """A connection to the room list's namespace."""

    def connect(self):
        self.sio.on("*", self._record, namespace="/lobby")
        self.sio.connect(
            self.url,
            headers=self.headers,
            namespaces=["/lobby"],
            transports=["websocket"],
            wait_timeout=20,
        )
        return self

    def counts(self, room):
        """``(online, unread)`` of ``room`` as a page keeps them from the events."""
        online = unread = None
        for event, data in self.events:
            if event == "rooms":
                entry = next(r for r in data if r["room"] == room)
                online, unread = entry["online"], entry["unread"]
            elif event == "online" and data["room"] == room:
                online = data["count"]
            elif event == "unread" and data["room"] == room:
                unread = data["unread"]
            elif event == "activity" and data["room"] == room and unread is not None:
                unread += data["user"] != self.user
        return online, unread


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


def ack_times_while(chat, threads):
    """Start ``threads`` and send ``chat`` messages, ack after ack, for as long as
    any of them runs; the seconds each ack took (the chat's answer under that load)."""
    for thread in threads:
        thread.start()
    latencies = []
    while any(thread.is_alive() for thread in threads):
        started = time.monotonic()
        assert chat.send(f"probe {len(latencies)}")["ok"]
        latencies.append(time.monotonic() - started)
    for thread in threads:
        thread.join()
    return latencies
