"""Shared fixtures: the real server (gunicorn + eventlet), logged-in HTTP sessions,
Socket.IO clients and headless Chromium browsers."""

import os
import shutil
import tempfile
import uuid

import pytest

from tests.support.browser import BrowserFactory
from tests.support.clock import FakeClock
from tests.support.server import DEMO_PASSWORD, LiveServer, ServerFactory, collect_static, login
from tests.support.sio import connected

# redis_service, postgres_service: real servers started for the session.
pytest_plugins = ["tests.support.services"]

# Unit tests import the settings in this process; they need a key, and the
# real servers started below get their own environment.
os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-" + "x" * 40)


STATIC_COLLECTED = "D09_TEST_STATIC_COLLECTED"

# D09_TEST_BACKEND=postgres-redis runs the live-server tests (the browser suite)
# against PostgreSQL and Redis instead of the embedded SQLite and memory.
BACKENDS = ("sqlite", "postgres-redis")
BACKEND = os.environ.get("D09_TEST_BACKEND", "").strip() or "sqlite"
if BACKEND not in BACKENDS:
    raise pytest.UsageError(f"D09_TEST_BACKEND must be one of {BACKENDS}, not {BACKEND!r}")


def pytest_configure(config):
    """The static files every test server serves, collected once before any
    starts: in the main process only (pytest-xdist's workers have
    ``workerinput``; they start after this), and not again in a pytest that a
    test starts (``tests/unit/test_on_postgres.py``) while servers run."""
    if hasattr(config, "workerinput") or os.environ.get(STATIC_COLLECTED):
        return
    collect_static()
    os.environ[STATIC_COLLECTED] = "1"  # inherited by the workers and subprocesses


@pytest.fixture(autouse=True)
def _rooms_last_messages_read_afresh():
    """chat.messages keeps each room's last messages by the room's change
    number; between tests the database rolls back and the numbers come again."""
    from chat import messages

    messages.forget_latest()


@pytest.fixture(scope="session")
def live_server_env(request):
    """Environment of the server under test: a throwaway database (SQLite, or
    PostgreSQL with Redis under D09_TEST_BACKEND=postgres-redis)."""
    workdir = tempfile.mkdtemp(prefix="d09-live-")
    env = {
        "SECRET_KEY": "live-server-tests-secret-key-" + "y" * 40,
        "DEBUG": "0",
        "DATABASE_URL": f"sqlite:///{workdir}/db.sqlite3",
        "MEDIA_ROOT": f"{workdir}/media",
        "LOG_LEVEL": "INFO",
    }
    if BACKEND == "postgres-redis":
        env["DATABASE_URL"] = request.getfixturevalue("postgres_service").new_database()
        env["REDIS_URL"] = request.getfixturevalue("redis_service").fresh_url()
    yield env
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def server(live_server_env):
    """The app as users start it: gunicorn -k eventlet -w 1 on a free port."""
    live = LiveServer(extra_env=live_server_env)
    live.prepare()
    live.start()
    yield live
    live.stop()


@pytest.fixture
def servers(live_server_env, tmp_path):
    """Start servers of a test's own (own database, own settings): ``servers.start(**env)``."""
    factory = ServerFactory(live_server_env, tmp_path)
    yield factory
    factory.stop_all()


@pytest.fixture(scope="module")
def module_servers(live_server_env, tmp_path_factory):
    """``servers`` shared by the tests of one module (for settings they all use)."""
    factory = ServerFactory(live_server_env, tmp_path_factory.mktemp("servers"))
    yield factory
    factory.stop_all()


@pytest.fixture
def alice_session(server):
    return login(server.url, "alice", DEMO_PASSWORD)


@pytest.fixture
def bob_session(server):
    return login(server.url, "bob", DEMO_PASSWORD)


@pytest.fixture
def carol_session(server):
    return login(server.url, "carol", DEMO_PASSWORD)


@pytest.fixture
def browsers():
    """Make as many browsers (users) as a test needs; all quit at the end."""
    factory = BrowserFactory()
    yield factory
    factory.quit_all()


@pytest.fixture
def browser(browsers):
    return browsers.new()


@pytest.fixture(autouse=True)
def unit_test_settings(settings):
    """In-process tests: a cheap password hasher (they create users) and plain
    static storage, so templates render without a prior collectstatic."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def fresh_room(server):
    """A room of its own for a test, so other tests' users and messages stay out."""
    slug = "t-" + uuid.uuid4().hex[:10]
    return server.create_room(f"Test room {slug}", slug)


@pytest.fixture
def clients(request):
    """Open chat clients (tests/support/sio.py) with ``clients.open(logged_in,
    room)`` on the session's server, or ``server=`` another; all closed at the end."""
    opened = []

    class Clients:
        def open(self, logged_in, room, server=None, **kwargs):
            live = server or request.getfixturevalue("server")
            client = connected(live.url, logged_in, room, **kwargs)
            opened.append(client)
            return client

    yield Clients()
    for client in opened:
        client.close()


@pytest.fixture
def clock():
    """A fake clock (tests/support/clock.py) for code that takes ``clock=``."""
    return FakeClock()
