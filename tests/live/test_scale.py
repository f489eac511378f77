"""Several server processes sharing one Redis and one PostgreSQL (issue 5).

Every process is a real ``gunicorn -k eventlet`` (or gevent) subprocess; Redis
and PostgreSQL are real servers started by the test session on loopback.
"""

import json
import os
import signal
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest
import redis

from tests.support.raw import RawSocket
from tests.support.server import DEMO_PASSWORD, csrf_post, login, start_server, wait_until
from tests.support.sio import call_at_once, refusal_of

pytestmark = pytest.mark.scale

SLOW_TEXT = "slow: pg_sleep(2)"


@dataclass
class Deployment:
    env: dict
    log_dir: Path

    def sql(self, statement, params=None):
        connection = psycopg2.connect(self.env["DATABASE_URL"])
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement, params)
                return cursor.fetchall() if cursor.description else None
        finally:
            connection.close()

    def redis(self):
        return redis.Redis.from_url(self.env["REDIS_URL"])

    def server(self, name, env=None, **options):
        return start_server({**self.env, **(env or {})}, self.log_dir, name, **options)


@pytest.fixture(scope="module")
def deployment(redis_service, postgres_service, tmp_path_factory):
    return Deployment(
        env={
            "SECRET_KEY": "scale-tests-secret-key-" + "z" * 40,
            "DEBUG": "0",
            "DATABASE_URL": postgres_service.new_database(),
            "REDIS_URL": redis_service.fresh_url(),
            "LOG_LEVEL": "INFO",
        },
        log_dir=tmp_path_factory.mktemp("scale-logs"),
    )


@pytest.fixture(scope="module")
def pair(deployment):
    """Two processes of the deployment: ``gunicorn -k eventlet -w 1`` on two ports."""
    first = deployment.server("a", prepare=True)
    second = deployment.server("b")
    yield first, second
    first.stop()
    second.stop()


@pytest.fixture
def room(deployment, pair):
    """A room of the test's own, so that other tests' users stay out of it."""
    slug = "r-" + uuid.uuid4().hex[:10]
    deployment.sql("INSERT INTO chat_room (name, slug) VALUES (%s, %s)", [slug, slug])
    return slug


def log_in(server, username):
    return login(server.url, username, DEMO_PASSWORD)


def has_notice(event, user):
    return lambda tap: user in tap.who(event)


def test_users_of_two_processes_share_messages_users_and_notices(pair, room, clients):
    a, b = pair
    on_a = clients.open(log_in(a, "alice"), room, server=a)
    on_a.wait_users(["alice"])
    on_b = clients.open(log_in(b, "bob"), room, server=b)
    for tap in (on_a, on_b):
        tap.wait_users(["alice", "bob"])
    on_a.wait(has_notice("joined", "bob"), "bob's joined notice")

    sent = [on_a.post("hello from A"), on_b.post("hello from B"), on_a.post("last one")]
    for tap in (on_a, on_b):
        tap.wait(lambda tap: len(tap.of("message")) >= 3, "three messages")
    # The last message trails any duplicate of the first two: each came once.
    assert on_a.message_ids() == on_b.message_ids() == sent
    assert [m["text"] for m in on_b.of("message")] == ["hello from A", "hello from B", "last one"]

    # carol comes and goes on A; bob, on B, sees both notices and lists.
    carol = clients.open(log_in(a, "carol"), room, server=a)
    on_b.wait_users(["alice", "bob", "carol"])
    carol.close()
    on_b.wait(has_notice("left", "carol"), "carol's left notice")
    for tap in (on_a, on_b):
        tap.wait_users(["alice", "bob"])
    assert on_b.who("joined")[-1] == "carol"

    # Newcomers on either process get the same history.
    late = log_in(b, "carol")
    histories = [clients.open(late, room, server=server) for server in (a, b)]
    for tap in histories:
        tap.wait(lambda tap: tap.of("history"), "history")
        assert [m["id"] for m in tap.of("history")[0]] == sent
        assert tap.of("history")[0][0]["text"] == "hello from A"


def test_concurrent_senders_on_both_processes_give_everyone_one_gapless_order(pair, room, clients):
    a, b = pair
    members = [
        clients.open(log_in(server, name), room, server=server)
        for server, name in ((a, "alice"), (a, "bob"), (b, "carol"), (b, "alice"))
    ]
    for tap in members:
        tap.wait_users(["alice", "bob", "carol"])

    per_sender = 20
    acked = []

    def send_many(tap):
        for n in range(per_sender):
            acked.append(tap.post(f"{tap.user} #{n}"))

    senders = [threading.Thread(target=send_many, args=(tap,)) for tap in members]
    for thread in senders:
        thread.start()
    for thread in senders:
        thread.join(timeout=120)
    total = per_sender * len(members)
    assert len(acked) == total
    for tap in members:
        tap.wait(lambda tap: len(tap.of("message")) >= total, f"{total} messages", timeout=60)

    sequences = [tap.message_ids() for tap in members]
    assert all(sequence == sequences[0] for sequence in sequences), sequences
    first = sequences[0][0]
    # The database's order (ids), with nothing missing and nothing twice.
    assert sequences[0] == sorted(acked) == list(range(first, first + total))


def test_users_of_a_killed_process_leave_the_others_lists_within_30_s(
    deployment, pair, room, clients
):
    a, _b = pair
    doomed = deployment.server("doomed")
    try:
        on_doomed = clients.open(log_in(doomed, "alice"), room, server=doomed)
        survivor = clients.open(log_in(a, "bob"), room, server=a)
        survivor.wait_users(["alice", "bob"])
        on_doomed.wait_users(["alice", "bob"])

        workers = doomed.worker_pids()
        # The master first, or it would start a new worker.
        for pid in [doomed.process.pid, *workers]:
            os.kill(pid, signal.SIGKILL)
        killed_at = time.monotonic()

        survivor.wait(has_notice("left", "alice"), "alice's left notice", timeout=30)
        assert time.monotonic() - killed_at < 30
        survivor.wait_users(["bob"], timeout=5)
    finally:
        doomed.stop()


@pytest.fixture(scope="module")
def slow_trigger(deployment, pair):
    """Make storing the message SLOW_TEXT take 2 s, inside PostgreSQL."""
    deployment.sql(
        "CREATE FUNCTION d09_test_slow() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN PERFORM pg_sleep(2); RETURN NEW; END $$"
    )
    deployment.sql(
        "CREATE TRIGGER d09_test_slow BEFORE INSERT ON chat_message FOR EACH ROW "
        "WHEN (NEW.text = %s) EXECUTE FUNCTION d09_test_slow()",
        [SLOW_TEXT],
    )


@pytest.fixture(scope="module")
def gevent_server(deployment, pair):
    server = deployment.server("gevent", env={"SIO_ASYNC_MODE": "gevent"}, worker_class="gevent")
    yield server
    server.stop()


@pytest.mark.parametrize("worker", ["eventlet", "gevent"])
def test_a_slow_query_does_not_delay_a_broadcast_in_another_room(
    request, deployment, pair, slow_trigger, worker, clients
):
    server = pair[0] if worker == "eventlet" else request.getfixturevalue("gevent_server")
    slow_room = request.getfixturevalue("room")
    busy_room = "r-" + uuid.uuid4().hex[:10]
    deployment.sql("INSERT INTO chat_room (name, slug) VALUES (%s, %s)", [busy_room, busy_room])
    sender = clients.open(log_in(server, "alice"), slow_room, server=server)
    speaker = clients.open(log_in(server, "bob"), busy_room, server=server)
    listener = clients.open(log_in(server, "carol"), busy_room, server=server)
    listener.wait_users(["bob", "carol"])

    slow_done = threading.Event()
    slow = threading.Thread(target=lambda: (sender.post(SLOW_TEXT), slow_done.set()))
    slow.start()
    # Measure from the moment PostgreSQL is sleeping inside the insert.
    wait_until(
        lambda: deployment.sql("SELECT 1 FROM pg_stat_activity WHERE wait_event = 'PgSleep'"),
        timeout=20,
        message="the slow query running",
    )
    started = time.monotonic()
    speaker.post("quick")
    listener.wait(lambda tap: tap.of("message"), "the quick message", timeout=20)
    delay = time.monotonic() - started
    delivered_before_slow_ack = not slow_done.is_set()
    slow.join(timeout=30)

    assert slow_done.is_set()
    # Had the process waited for PostgreSQL, the slow handler would have
    # finished (and acked) before the quick message was even handled.
    assert delivered_before_slow_ack, f"the broadcast waited for the slow query ({delay:.2f} s)"
    # The worker used a green psycopg2: gunicorn's eventlet worker patches it
    # itself ("already"); under gevent sio_server.py installs the callback.
    expected = {"eventlet": "already", "gevent": "installed"}[worker]
    assert f"psycopg2 wait callback: {expected}" in server.tail(400)


def test_several_workers_with_redis_serve_one_chat(deployment, pair, room, clients):
    server = deployment.server("workers", workers=2)
    try:
        workers = server.worker_pids()
        assert len(workers) == 2
        # Both workers heartbeat into the shared presence.
        wait_until(
            lambda: all(
                any(f":{pid}:" in member.decode() for member in live_processes(deployment))
                for pid in workers
            ),
            timeout=20,
            message="both workers registered",
        )
        members = [
            clients.open(log_in(server, name), room, server=server) for name in ("alice", "bob") * 3
        ]
        for tap in members:
            tap.wait_users(["alice", "bob"])
        sent = members[0].post("to every worker")
        for tap in members:
            tap.wait(lambda tap: tap.message_ids() == [sent], "the message")
    finally:
        server.stop()


def live_processes(deployment):
    return deployment.redis().smembers("d09:presence:processes")


def test_users_of_a_stopped_process_leave_at_the_next_reap(deployment, pair, room, clients):
    a, _b = pair
    stopping = deployment.server("stopping")
    clients.open(log_in(stopping, "alice"), room, server=stopping)
    survivor = clients.open(log_in(a, "bob"), room, server=a)
    survivor.wait_users(["alice", "bob"])
    stopping.stop()
    stopped_at = time.monotonic()
    survivor.wait(has_notice("left", "alice"), "alice's left notice", timeout=30)
    survivor.wait_users(["bob"], timeout=5)
    # Sooner than PRESENCE_TTL (15 s) + the reap interval (5 s) would allow.
    assert time.monotonic() - stopped_at < 15
    assert "could not retire" not in stopping.tail(100)


def test_a_burst_from_one_client_is_stored_and_broadcast_in_the_order_sent(
    deployment, pair, room, clients
):
    # Every borrowed connection is checked first (a PostgreSQL round trip before
    # the room lock): handlers running side by side would reach the lock in
    # whatever order PostgreSQL answered. A client's events must not overtake
    # each other.
    checking = deployment.server("c", env={"EVENT_DB_CHECK_IDLE_SECONDS": "0"})
    try:
        alice = log_in(checking, "alice")
        watcher = clients.open(log_in(pair[1], "bob"), room, server=pair[1])
        raw = RawSocket(checking.url, cookie=alice.cookie)
        raw.connect_namespace({"room": room})
        count = 30
        for n in range(count):
            raw.send(f'42{n}["message",{{"text":"burst {n}"}}]')
        acks = {}
        while len(acks) < count:
            frame = raw.recv()
            if frame.startswith("43"):
                number, body = frame[2:].split("[", 1)
                acks[int(number)] = json.loads("[" + body)[0]
        ids = [acks[n]["id"] for n in range(count)]
        assert ids == sorted(ids), "stored out of the order sent"
        watcher.wait(lambda tap: len(tap.of("message")) >= count, "the burst")
        assert [m["text"] for m in watcher.of("message")] == [f"burst {n}" for n in range(count)]
        raw.close()
    finally:
        checking.stop()


def test_the_same_client_message_id_on_two_workers_is_one_row(deployment, pair, room, clients):
    a, b = pair
    on_a = clients.open(log_in(a, "alice"), room, server=a)
    on_b = clients.open(log_in(b, "alice"), room, server=b)
    watcher = clients.open(log_in(b, "bob"), room, server=b)
    cmid = "w" + uuid.uuid4().hex[:20]
    answers = call_at_once([on_a, on_b], {"text": "from both workers", "client_message_id": cmid})
    assert answers[0]["id"] == answers[1]["id"], answers
    assert sorted(bool(a.get("duplicate")) for a in answers) == [False, True]
    rows = deployment.sql("SELECT count(*) FROM chat_message WHERE client_message_id = %s", [cmid])
    assert rows == [(1,)]
    marker = on_a.post("marker")
    watcher.wait(lambda tap: marker in tap.message_ids(), "the marker")
    assert watcher.message_ids().count(answers[0]["id"]) == 1


@pytest.fixture
def private_room(deployment, pair):
    """A private room of alice (its creator) and bob, made in SQL."""
    slug = uuid.uuid4().hex[:24]
    room_id = deployment.sql(
        "INSERT INTO chat_room (name, slug, kind, created_by_id) "
        "SELECT %s, %s, 'private', id FROM auth_user WHERE username = 'alice' RETURNING id",
        ["private " + slug, slug],
    )[0][0]
    deployment.sql(
        "INSERT INTO chat_membership (room_id, user_id, created) "
        "SELECT %s, id, now() FROM auth_user WHERE username IN ('alice', 'bob')",
        [room_id],
    )
    return slug


def test_a_member_removed_on_one_process_is_cut_off_on_the_other_within_two_seconds(
    pair, private_room, clients
):
    a, b = pair
    alice = log_in(a, "alice")
    on_a = clients.open(alice, private_room, server=a)
    on_b = clients.open(log_in(b, "bob"), private_room, server=b)
    on_a.wait_users(["alice", "bob"])

    answer = csrf_post(
        alice.session,
        a.url,
        f"/chat/{private_room}/members/",
        {"action": "remove", "username": "bob"},
    )
    removed_at = time.monotonic()
    assert answer.status_code == 200, answer.text
    reason = on_b.wait_for("session_ended", timeout=2)["reason"]
    assert reason == "You are no longer a member of this room."
    assert time.monotonic() - removed_at < 2
    on_a.wait_users(["alice"])
    assert on_a.wait_for("member_removed") == {"user": "bob", "by": "alice"}
    refused = refusal_of(b.url, logged_in=log_in(b, "bob"), room=private_room)
    assert refused == f"There is no chat room {private_room!r}."


def test_a_user_deactivated_in_sql_is_cut_off_on_every_process_within_two_seconds(
    deployment, pair, room, clients
):
    taps = [clients.open(log_in(server, "carol"), room, server=server) for server in pair]
    for tap in taps:
        tap.wait_users(["carol"])
    deployment.sql("UPDATE auth_user SET is_active = false WHERE username = 'carol'")
    changed = time.monotonic()
    try:
        for tap in taps:
            assert tap.wait_for("session_ended", timeout=2)["reason"] == (
                "Your account has been deactivated."
            )
        assert time.monotonic() - changed < 2
    finally:
        deployment.sql("UPDATE auth_user SET is_active = true WHERE username = 'carol'")


def test_logins_after_closed_and_refused_chat_connections_never_fail(pair, clients):
    # python-engineio closed a WebSocket from its writer green thread while its
    # reader waited on it: the reader's listener stayed in eventlet's hub, the
    # next PostgreSQL connection got that descriptor, and about one login in
    # ten after a refused connect was a 500 ("Second simultaneous read").
    _a, b = pair
    for _ in range(12):
        tap = clients.open(log_in(b, "bob"), "general", server=b)
        tap.wait_for("history")
        tap.close()
        assert "no chat room" in refusal_of(b.url, logged_in=log_in(b, "bob"), room="nowhere")
        log_in(b, "carol")  # asserts a 200
