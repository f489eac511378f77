"""The app starts the ways the README says: gunicorn's eventlet worker and
``python sio_server.py``, and both serve pages and /socket.io/."""

import pytest
import requests

from tests.support.process import run
from tests.support.server import login
from tests.support.sio import connected

pytestmark = pytest.mark.server


@pytest.fixture
def direct_server(servers):
    return servers.start(worker_class="direct")


def serves_pages_and_chat(url):
    assert requests.get(url + "/account", timeout=5).status_code == 200
    assert requests.get(url + "/static/vendor/jquery/jquery.min.js", timeout=5).status_code == 200
    user = login(url, "carol", "chat-demo-2024")
    client = connected(url, user, "random")
    try:
        assert client.wait_for("joined")["user"] == "carol"
        assert client.send("hello from the entry point test")["ok"]
    finally:
        client.close()


def test_gunicorn_eventlet_worker_serves_pages_and_socketio(server):
    serves_pages_and_chat(server.url)
    log = server.tail(400)
    assert "Using worker: eventlet" in log
    # d09/runtime/gc_tuning.py ran in the worker (start-up objects frozen, rare collections).
    assert "garbage collector:" in log and "start-up objects frozen" in log


def test_python_sio_server_serves_pages_and_socketio(direct_server):
    serves_pages_and_chat(direct_server.url)


def test_worker_log_records_do_not_name_green_threads():
    # Naming the current thread under eventlet keeps a green Thread object per
    # connection that logs; sio_server.py turns thread names off.
    result = run("import logging, sio_server; print(logging.logThreads)", {"DEBUG": "1"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
