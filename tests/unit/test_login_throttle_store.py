"""The throttle's counters in the database (account/throttle.py), through the real
login view in-process (Django's test client, the test database, a cheap hasher)."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from account import throttle
from account.models import ThrottleCount

PASSWORD = "correct horse battery"


@pytest.fixture
def alice(db):
    return get_user_model().objects.create_user("alice", password=PASSWORD)


def log_in(client, username, password, address="192.0.2.1"):
    # One client per test (pytest-django's): a new one would load the middleware again.
    return client.post(
        reverse("account:login"),
        {"username": username, "password": password},
        REMOTE_ADDR=address,
    )


def test_hundreds_of_other_names_do_not_flush_a_users_count(client, alice):
    for _ in range(4):
        assert log_in(client, "alice", "wrong").status_code == 400
    # The old local-memory cache held 300 entries and dropped the oldest.
    for index in range(400):
        address = f"198.51.{index // 250}.{index % 250}"
        assert log_in(client, f"name{index}", "wrong", address=address).status_code == 400
    assert log_in(client, "alice", "wrong").status_code == 400
    assert log_in(client, "alice", PASSWORD).status_code == 429


def test_ipv6_clients_count_by_their_64_block(client, alice, settings):
    settings.LOGIN_FAILURES_PER_ADDRESS = 3
    for tail in range(3):
        answer = log_in(client, f"user{tail}", "wrong", address=f"2001:db8:1:2::{tail + 1}")
        assert answer.status_code == 400
    assert log_in(client, "alice", PASSWORD, address="2001:db8:1:2:ffff::9").status_code == 429
    assert log_in(client, "alice", PASSWORD, address="2001:db8:1:3::1").status_code == 200


def test_old_windows_are_swept_when_new_ones_open(client, alice):
    for index in range(10):
        log_in(client, f"name{index}", "wrong")
    assert ThrottleCount.objects.count() == 11  # ten names and one address
    ThrottleCount.objects.update(expires=timezone.now() - timedelta(seconds=1))
    log_in(client, "someone-else", "wrong")
    assert ThrottleCount.objects.count() == 2


def test_the_wait_shown_is_what_remains_of_the_window(client, alice):
    for _ in range(5):
        log_in(client, "alice", "wrong")
    ThrottleCount.objects.update(expires=timezone.now() + timedelta(seconds=61))
    answer = log_in(client, "alice", PASSWORD)
    assert answer.json()["error"] == "Too many failed logins: try again in 2 minutes."
    ThrottleCount.objects.update(expires=timezone.now() + timedelta(seconds=30))
    answer = log_in(client, "alice", PASSWORD)
    assert answer.json()["error"] == "Too many failed logins: try again in 1 minute."


def test_refused_attempts_leave_no_trace(client, alice, settings):
    settings.LOGIN_FAILURES_PER_ADDRESS = 2
    log_in(client, "bob", "wrong")
    log_in(client, "carol", "wrong")
    for _ in range(10):  # refused by the address: alice's own count does not move
        assert log_in(client, "alice", "wrong").status_code == 429
    users = ThrottleCount.objects.filter(key__startswith="login-user:")
    assert sorted(users.values_list("count", flat=True)) == [0, 1, 1]  # alice, bob, carol
    assert ThrottleCount.objects.get(key__startswith="login-address:").count == 2
    assert throttle.normalize_username(" ＡＬＩＣＥ ") == "alice"  # noqa: RUF001


def test_zero_turns_a_limit_off(client, alice, settings):
    settings.LOGIN_FAILURES_PER_USERNAME = 0
    for _ in range(8):
        assert log_in(client, "alice", "wrong", address=f"192.0.2.{_ + 10}").status_code == 400
    assert log_in(client, "alice", PASSWORD).status_code == 200
    assert not ThrottleCount.objects.filter(key__startswith="login-user").exists()


def test_a_browser_that_signed_up_is_known_for_that_name(client, db, settings):
    settings.LOGIN_FAILURES_PER_ADDRESS = 1
    answer = client.post(
        reverse("account:signup"),
        {"username": "dave", "password1": PASSWORD, "password2": PASSWORD},
        REMOTE_ADDR="192.0.2.1",
    )
    assert answer.status_code == 200
    client.post(reverse("account:logout"))
    log_in(Client(), "someone", "wrong")  # a stranger at the same address
    assert log_in(Client(), "dave", PASSWORD).status_code == 429
    assert log_in(client, "dave", PASSWORD).status_code == 200
