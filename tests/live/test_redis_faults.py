"""Issue 11, item 6: the chat with REDIS_URL while Redis fails. A logout always
logs out; presence heals by itself; an ack always says what happened."""

import pytest
import requests

from tests.support.server import DEMO_PASSWORD, csrf_post, login, start_server, wait_until
from tests.support.sio import connected

pytestmark = pytest.mark.scale


@pytest.fixture
def on_own_redis(own_redis, tmp_path):
    """One server process whose Redis (``own_redis``) the test may break."""
    env = {
        "SECRET_KEY": "redis-faults-tests-" + "f" * 40,
        "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
        "REDIS_URL": own_redis.url(),
        "LOG_LEVEL": "INFO",
    }
    server = start_server(env, tmp_path, "faults", prepare=True)
    yield server
    server.stop()


def test_logout_logs_out_while_redis_is_down(on_own_redis, own_redis):
    alice = login(on_own_redis.url, "alice", DEMO_PASSWORD)
    chatting = connected(on_own_redis.url, alice, "general")
    chatting.wait_users(["alice"])
    own_redis.down()
    answer = csrf_post(alice.session, on_own_redis.url, "/account/logout", {})
    assert answer.status_code == 200, answer.text
    page = requests.get(
        on_own_redis.url + "/chat/general/", headers=alice.headers, allow_redirects=False, timeout=5
    )
    assert page.status_code == 302  # to the login page: the session is gone
    chatting.close()


def test_a_leave_that_redis_missed_is_made_by_the_next_heartbeat(on_own_redis, own_redis):
    watcher = connected(on_own_redis.url, login(on_own_redis.url, "carol", DEMO_PASSWORD), "cats")
    leaving = connected(on_own_redis.url, login(on_own_redis.url, "bob", DEMO_PASSWORD), "cats")
    watcher.wait_users(["bob", "carol"])
    # Redis keeps its data but answers nobody for longer than the clients'
    # socket timeout (10 s): bob's leave fails in Redis.
    own_redis.pause(12)
    leaving.close()
    wait_until(
        lambda: "bob left cats" in on_own_redis.tail(200), timeout=15, message="bob's leave handled"
    )
    # Within a heartbeat (5 s) of Redis answering again, bob is out of the list.
    watcher.wait_for("left", lambda data: data["user"] == "bob", timeout=30)
    watcher.wait_users(["carol"], timeout=10)
    watcher.close()
