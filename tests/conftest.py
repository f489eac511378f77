"""Shared fixtures: the real server (gunicorn + eventlet), logged-in HTTP sessions,
Socket.IO clients and headless Chromium browsers."""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.support.browser import BrowserFactory
from tests.support.server import DEMO_PASSWORD, LiveServer, login

# redis_service, postgres_service (real servers) and taps (in-order chat clients).
pytest_plugins = ["tests.support.services", "tests.support.cluster"]

# Unit tests import the settings in this process; they need a key, and the
# real servers started below get their own environment.
os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-" + "x" * 40)


# D09_TEST_BACKEND=postgres-redis runs the live-server tests (the browser suite)
# against PostgreSQL and Redis instead of the embedded SQLite and memory.
BACKENDS = ("sqlite", "postgres-redis")
BACKEND = os.environ.get("D09_TEST_BACKEND", "").strip() or "sqlite"
if BACKEND not in BACKENDS:
    raise pytest.UsageError(f"D09_TEST_BACKEND must be one of {BACKENDS}, not {BACKEND!r}")


@pytest.fixture(scope="session")
def live_server_env(request):
    """Environment of the server under test: a throwaway database (SQLite, or
    PostgreSQL with Redis under D09_TEST_BACKEND=postgres-redis)."""
    workdir = tempfile.mkdtemp(prefix="d09-live-")
    env = {
        "SECRET_KEY": "live-server-tests-secret-key-" + "y" * 40,
        "DEBUG": "0",
        "DATABASE_URL": f"sqlite:///{workdir}/db.sqlite3",
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
    if BACKEND != "sqlite":
        # The database is no file to put the log beside.
        live.log_path = Path(tempfile.gettempdir()) / f"d09-server-{live.port}.log"
    live.prepare()
    live.start()
    yield live
    live.stop()


@pytest.fixture
def alice(server):
    return login(server.url, "alice", DEMO_PASSWORD)


@pytest.fixture
def bob(server):
    return login(server.url, "bob", DEMO_PASSWORD)


@pytest.fixture
def carol(server):
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
