"""A Redis restart under two live processes (issue 4, faults): broadcasts resume
by themselves within seconds, presence is rebuilt, nothing acked is lost."""

import uuid

import pytest

from tests.support.server import DEMO_PASSWORD, login, start_server, wait_until

pytestmark = pytest.mark.scale


def try_send(tap, text):
    answer = tap.sio.call("message", {"text": text}, timeout=20)
    return answer if answer.get("ok") else None


def test_broadcasts_and_presence_come_back_after_a_redis_restart(
    own_redis, postgres_service, tmp_path, clients
):
    env = {
        "SECRET_KEY": "redis-restart-tests-" + "r" * 40,
        "DATABASE_URL": postgres_service.new_database(),
        "REDIS_URL": own_redis.url(),
        "LOG_LEVEL": "INFO",
    }
    a = start_server(env, tmp_path, "a", prepare=True)
    b = start_server(env, tmp_path, "b")
    try:
        room = "rr-" + uuid.uuid4().hex[:8]
        a.manage(
            "shell",
            "-c",
            f"from chat.models import Room; Room.objects.create(name={room!r}, slug={room!r})",
        )
        alice = clients.open(login(a.url, "alice", DEMO_PASSWORD), room, server=a)
        bob = clients.open(login(b.url, "bob", DEMO_PASSWORD), room, server=b)
        alice.wait_users(["alice", "bob"])
        before = alice.post("before the restart")
        bob.wait(lambda t: before in t.message_ids(), "message before the restart")

        own_redis.restart()

        acked = wait_until(
            lambda: try_send(alice, "after the restart"),
            timeout=30,
            interval=0.5,
            message="a message accepted after the restart",
        )
        bob.wait(lambda t: acked["id"] in t.message_ids(), "message after the restart", 20)
        # Presence lived in Redis and was wiped: each process puts its users back.
        carol = clients.open(login(b.url, "carol", DEMO_PASSWORD), room, server=b)
        carol.wait_users(["alice", "bob", "carol"], timeout=30)

        count_code = (
            "from chat.models import Message as M; "
            f"print(M.objects.filter(room__slug={room!r}).count())"
        )
        count = a.manage("shell", "-c", count_code).strip().splitlines()[-1]
        assert int(count) == 2  # exactly the two acked messages
    finally:
        a.stop()
        b.stop()
