"""Several server processes of one deployment, and chat clients that keep the
order in which events arrived.

python-socketio's Client hands every event to a new thread, so its handlers may
run out of order; ``InOrderClient`` runs them in the reader thread instead, in
wire order, which is what the ordering tests compare.
"""

import threading

import engineio
import pytest
import socketio

from tests.support.server import LiveServer, wait_until


class _InOrderEngineIO(engineio.Client):
    def _trigger_event(self, event, *args, **kwargs):
        kwargs["run_async"] = False
        return super()._trigger_event(event, *args, **kwargs)


class InOrderClient(socketio.Client):
    def _engineio_client_class(self):
        return _InOrderEngineIO


class Tap:
    """One chat connection recording ``(event, data)`` in arrival order."""

    def __init__(self, url, logged_in, room, origin=None):
        self.user = logged_in.username
        self.events = []
        self._lock = threading.Lock()
        # websocket-client sends Origin: http://<host> unless told another one.
        options = {"origin": origin} if origin else {}
        self.sio = InOrderClient(reconnection=False, websocket_extra_options=options)
        self.sio.on("*", self._record)
        self.sio.connect(
            url,
            headers=logged_in.headers,
            auth={"room": room},
            transports=["websocket"],
            wait_timeout=20,
        )

    def _record(self, event, data=None):
        with self._lock:
            self.events.append((event, data))

    def of(self, name):
        with self._lock:
            return [data for event, data in self.events if event == name]

    def message_ids(self):
        return [message["id"] for message in self.of("message")]

    def users(self):
        lists = self.of("users")
        return lists[-1] if lists else None

    def wait(self, condition, message, timeout=20):
        label = f"{self.user}: {message}"
        return wait_until(lambda: condition(self), timeout=timeout, message=label)

    def wait_users(self, expected, timeout=20):
        self.wait(lambda tap: tap.users() == expected, f"users {expected}", timeout)

    def send(self, text, timeout=20):
        answer = self.sio.call("message", {"text": text}, timeout=timeout)
        assert answer.get("ok"), answer
        return answer["id"]

    def close(self):
        if self.sio.connected:
            self.sio.disconnect()


class Taps:
    """Open taps with ``taps.open(server, logged_in, room)``; all closed at the end."""

    def __init__(self):
        self.opened = []

    def open(self, server, logged_in, room, origin=None):
        tap = Tap(server.url, logged_in, room, origin)
        self.opened.append(tap)
        return tap

    def close_all(self):
        for tap in self.opened:
            tap.close()


@pytest.fixture
def taps():
    opened = Taps()
    yield opened
    opened.close_all()


def start_server(env, log_dir, name, prepare=False, server_class=LiveServer, **options):
    """A LiveServer of the deployment ``env`` (``options``: workers, worker_class)."""
    server = server_class(extra_env=env, **options)
    # The log goes next to the deployment's other files (DATABASE_URL may not
    # be a file path).
    server.log_path = log_dir / f"{name}-{server.port}.log"
    if prepare:
        server.prepare()
    server.start()
    return server


def start_sqlite_server(folder, name, env=None, **options):
    """A server of its own with a new SQLite database in ``folder``, prepared."""
    base = {
        "SECRET_KEY": f"{name}-tests-secret-key-" + "s" * 40,
        "DEBUG": "0",
        "DATABASE_URL": f"sqlite:///{folder}/db.sqlite3",
    }
    return start_server({**base, **(env or {})}, folder, name, prepare=True, **options)
