"""The login and signup throttles on the real server (gunicorn, eventlet worker).

Most tests run against two gunicorn processes on one database, behind a "proxy"
(the tests themselves, at 127.0.0.1, trusted with FORWARDED_ALLOW_IPS): each test
comes from forwarded addresses of its own, so tests do not share address counts.
"""

import threading
import uuid

import pytest
import requests

from tests.support.server import DEMO_PASSWORD, LiveServer, csrf_post

pytestmark = pytest.mark.server

PASSWORD = "a-long-pass-phrase"
LOCKED_OUT = {"ok": False, "error": "Too many failed logins: try again in 15 minutes."}
# The defaults (5 per username, 15 minutes) except for the per-address limits, low
# here so that reaching them takes few (slow, 0.3 s) password hashes.
LIMITS = {"LOGIN_FAILURES_PER_ADDRESS": "8", "SIGNUPS_PER_ADDRESS": "3"}


@pytest.fixture(scope="module")
def proxied(live_server_env, tmp_path_factory):
    """Two single-worker gunicorn processes sharing one database, as two workers or
    two hosts would, both trusting the proxy at 127.0.0.1."""
    database = tmp_path_factory.mktemp("throttle") / "db.sqlite3"
    env = {
        **{key: value for key, value in live_server_env.items() if key != "REDIS_URL"},
        **LIMITS,
        "DATABASE_URL": f"sqlite:///{database}",
        "FORWARDED_ALLOW_IPS": "127.0.0.1",
    }
    first, second = LiveServer(extra_env=env), LiveServer(extra_env=env)
    first.prepare()
    try:
        first.start()
        second.start()
        yield first, second
    finally:
        first.stop()
        second.stop()


def new_address():
    """A forwarded client address of a test's own (TEST-NET-3 plus a random tail)."""
    tail = uuid.uuid4().int
    return f"203.0.{tail % 256}.{(tail >> 8) % 254 + 1}"


def client(forwarded=None):
    session = requests.Session()
    if forwarded:
        session.headers["X-Forwarded-For"] = forwarded
    return session


def log_in(server, username, password, forwarded=None, session=None):
    session = session or client(forwarded)
    return csrf_post(
        session, server.url, "/account/login", {"username": username, "password": password}
    )


def sign_up(server, username, forwarded):
    return csrf_post(
        client(forwarded),
        server.url,
        "/account/signup",
        {"username": username, "password1": PASSWORD, "password2": PASSWORD},
    )


def new_user(server, prefix, superuser=False):
    name = f"{prefix}{uuid.uuid4().hex[:8]}"
    if superuser:
        server.manage(
            "shell",
            "-c",
            "from django.contrib.auth import get_user_model; "
            f"get_user_model().objects.create_superuser({name!r}, password={PASSWORD!r})",
        )
    else:
        server.create_users([name], PASSWORD)
    return name


def fullwidth(name):
    """The fullwidth form of an ASCII name (U+FF01..U+FF5E mirror ASCII 0x21..0x7E)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in name)


def test_a_fullwidth_variant_counts_against_the_real_name(proxied):
    server, _ = proxied
    name = new_user(server, "erin")
    variant = fullwidth(name)
    assert variant != name
    for _ in range(5):
        # Django logs the variant in as `name`: each is a real guess at its password.
        answer = log_in(server, variant, "wrong", new_address())
        assert answer.status_code == 400, answer.text
    answer = log_in(server, name, PASSWORD, new_address())
    assert answer.status_code == 429
    assert answer.json() == LOCKED_OUT
    assert int(answer.headers["Retry-After"]) > 14 * 60


def test_two_processes_share_the_counts(proxied):
    first, second = proxied
    name = new_user(first, "frank")
    for server in (first, second, first, second, first):
        assert log_in(server, name, "wrong", new_address()).status_code == 400
    # Each process saw only 3 or 2 of the 5 failures; both refuse the sixth try.
    for server in (second, first):
        answer = log_in(server, name, PASSWORD, new_address())
        assert answer.status_code == 429
        assert answer.json() == LOCKED_OUT


def test_a_success_resets_the_username_count(proxied):
    first, second = proxied
    name = new_user(first, "gina")
    for _ in range(2):
        for server in (first, second, first, second):
            assert log_in(server, name, "wrong", new_address()).status_code == 400
        assert log_in(second, name, PASSWORD, new_address()).status_code == 200


def test_parallel_guesses_cannot_slip_past_the_limit(proxied):
    first, second = proxied
    name = new_user(first, "heidi")
    answers = []

    def guess(server):
        answers.append(log_in(server, name, "wrong", new_address()).status_code)

    threads = [threading.Thread(target=guess, args=(proxied[i % 2],)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # Counted before the hash runs: however many arrive together, 5 are checked.
    assert sorted(answers) == [400] * 5 + [429] * 7
    assert log_in(second, name, PASSWORD, new_address()).status_code == 429


def test_failed_logins_from_one_forwarded_address_never_block_another(proxied):
    first, second = proxied
    office, elsewhere = new_address(), new_address()
    for index in range(8):  # LOGIN_FAILURES_PER_ADDRESS here
        server = proxied[index % 2]
        assert log_in(server, f"nobody{uuid.uuid4().hex}", "wrong", office).status_code == 400
    assert log_in(first, "bob", DEMO_PASSWORD, office).status_code == 429
    assert log_in(second, "bob", DEMO_PASSWORD, elsewhere).status_code == 200
    # A client cannot borrow the blocked address's bucket, nor leave its own, by
    # writing addresses into the header: the proxy appends the real one.
    assert log_in(first, "bob", DEMO_PASSWORD, f"{office}, {elsewhere}").status_code == 200
    assert log_in(first, "bob", DEMO_PASSWORD, f"{elsewhere}, {office}").status_code == 429


def test_browsers_that_logged_in_before_are_not_locked_out_by_strangers(proxied):
    first, second = proxied
    office = new_address()
    bob_browser = client(office)
    assert log_in(first, "bob", DEMO_PASSWORD, session=bob_browser).status_code == 200
    for index in range(8):  # strangers behind the same NAT address fail
        server = proxied[index % 2]
        assert log_in(server, f"nobody{uuid.uuid4().hex}", "wrong", office).status_code == 400
    assert log_in(second, "carol", DEMO_PASSWORD, office).status_code == 429  # a new browser
    # Bob's browser (its signed cookie says it logged in as bob) still gets in as bob...
    assert log_in(second, "bob", DEMO_PASSWORD, session=bob_browser).status_code == 200
    # ...but not as anyone else, and a wrong password still counts against bob.
    assert log_in(first, "carol", DEMO_PASSWORD, session=bob_browser).status_code == 429
    assert log_in(first, "bob", "wrong", session=bob_browser).status_code == 400


def test_the_admin_login_is_throttled_with_the_same_counts(proxied):
    first, second = proxied
    admin = new_user(first, "root", superuser=True)

    def admin_login(server, password):
        session = client(new_address())
        session.get(server.url + "/admin/login/", timeout=5)
        return session.post(
            server.url + "/admin/login/?next=/admin/",
            data={
                "csrfmiddlewaretoken": session.cookies["csrftoken"],
                "username": admin,
                "password": password,
                "next": "/admin/",
            },
            headers={"Referer": server.url + "/admin/login/"},
            allow_redirects=False,
            timeout=5,
        )

    welcome = admin_login(first, PASSWORD)
    assert welcome.status_code == 302, welcome.text
    for server in (first, second, first):
        answer = admin_login(server, "wrong")
        assert answer.status_code == 200
        assert "Please enter the correct username and password" in answer.text
    for server in (first, second):  # the account API counts against the same name
        assert log_in(server, admin, "wrong", new_address()).status_code == 400
    refused = admin_login(second, PASSWORD)
    assert refused.status_code == 429
    assert refused.text == LOCKED_OUT["error"]
    assert log_in(first, admin, PASSWORD, new_address()).json() == LOCKED_OUT


def test_signup_is_throttled_per_address(proxied):
    first, second = proxied
    office = new_address()
    for index in range(3):  # SIGNUPS_PER_ADDRESS here
        answer = sign_up(proxied[index % 2], f"new{uuid.uuid4().hex[:10]}", office)
        assert answer.status_code == 200, answer.text
    refused = sign_up(second, f"new{uuid.uuid4().hex[:10]}", office)
    assert refused.status_code == 429
    assert refused.json() == {
        "ok": False,
        "error": "Too many new accounts from your address: try again in 60 minutes.",
    }
    assert sign_up(first, f"new{uuid.uuid4().hex[:10]}", new_address()).status_code == 200


def test_signups_that_fail_do_not_count(proxied):
    first, _ = proxied
    office = new_address()
    for _ in range(5):
        answer = csrf_post(
            client(office),
            first.url,
            "/account/signup",
            {"username": "bob", "password1": PASSWORD, "password2": PASSWORD},
        )
        assert answer.status_code == 400  # taken
    assert sign_up(first, f"new{uuid.uuid4().hex[:10]}", office).status_code == 200


def test_a_forged_forwarded_for_changes_nothing_by_default(servers):
    server = servers.start(LOGIN_FAILURES_PER_ADDRESS="3")
    for _ in range(3):
        answer = log_in(server, f"nobody{uuid.uuid4().hex}", "wrong", new_address())
        assert answer.status_code == 400
    # Every attempt came from 127.0.0.1 whatever the header said.
    answer = log_in(server, "bob", DEMO_PASSWORD, new_address())
    assert answer.status_code == 429
    assert answer.json() == LOCKED_OUT
