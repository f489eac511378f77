"""The account JSON endpoints, through Django's test client with CSRF checks on."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from account.models import ThrottleCount

PASSWORD = "correct horse battery"


@pytest.fixture
def user(db):
    return get_user_model().objects.create_user("alice", password=PASSWORD)


@pytest.fixture
def client():
    return Client(enforce_csrf_checks=True)


def csrf_token(client):
    client.get(reverse("account:page"))
    return client.cookies["csrftoken"].value


def post(client, name, data=None, token=True, **extra):
    headers = {"X-CSRFToken": csrf_token(client)} if token else {}
    return client.post(reverse(f"account:{name}"), data or {}, headers=headers, **extra)


def test_page_answers_with_and_without_trailing_slash(client, db):
    assert client.get("/account").status_code == 200
    assert client.get("/account/").status_code == 200


def test_anonymous_page_shows_login_form_and_hides_logged_in_block(client, db):
    html = client.get("/account").content.decode()
    assert 'id="login-form"' in html
    assert 'id="signup-form"' in html
    assert '<section id="logged-in" hidden>' in html


def test_logged_in_page_shows_logged_as_user(client, user):
    client.force_login(user)
    html = client.get("/account").content.decode()
    assert 'Logged as <strong id="logged-user">alice</strong>' in html
    assert '<section id="logged-out" hidden>' in html


def test_login_success(client, user):
    answer = post(client, "login", {"username": "alice", "password": PASSWORD})
    assert answer.status_code == 200
    body = answer.json()
    assert body["ok"] is True
    assert body["username"] == "alice"
    assert body["csrfToken"]
    assert client.get("/account").context["user"].username == "alice"


def test_login_wrong_password_is_a_400_with_form_errors(client, user):
    answer = post(client, "login", {"username": "alice", "password": "nope"})
    assert answer.status_code == 400
    body = answer.json()
    assert body["ok"] is False
    assert "correct username and password" in body["errors"]["__all__"][0]


def test_login_empty_fields_name_each_field(client, db):
    answer = post(client, "login", {})
    assert answer.status_code == 400
    errors = answer.json()["errors"]
    assert errors["username"] == ["This field is required."]
    assert errors["password"] == ["This field is required."]


def test_inactive_user_cannot_log_in(client, user):
    user.is_active = False
    user.save()
    answer = post(client, "login", {"username": "alice", "password": PASSWORD})
    assert answer.status_code == 400
    assert answer.json()["errors"]["__all__"]


@pytest.mark.parametrize("name", ["login", "logout", "signup"])
def test_wrong_method_is_a_json_405(client, db, name):
    answer = client.get(reverse(f"account:{name}"))
    assert answer.status_code == 405
    assert answer["Allow"] == "POST"
    assert answer.json()["ok"] is False


@pytest.mark.parametrize("name", ["login", "logout", "signup"])
def test_missing_csrf_token_is_a_json_403(client, user, name):
    answer = post(client, name, {"username": "alice", "password": PASSWORD}, token=False)
    assert answer.status_code == 403
    assert answer.json()["ok"] is False
    assert "CSRF" in answer.json()["error"]


def test_logout(client, user):
    client.force_login(user)
    answer = post(client, "logout")
    assert answer.status_code == 200
    assert answer.json() == {
        "ok": True,
        "username": "alice",
        "csrfToken": answer.json()["csrfToken"],
        "next": None,
    }
    assert not client.get("/account").context["user"].is_authenticated


def test_token_from_login_answer_is_accepted_for_logout(client, user):
    token = post(client, "login", {"username": "alice", "password": PASSWORD}).json()["csrfToken"]
    answer = client.post(reverse("account:logout"), headers={"X-CSRFToken": token})
    assert answer.status_code == 200


def test_safe_next_is_offered(client, user):
    answer = post(
        client, "login", {"username": "alice", "password": PASSWORD, "next": "/chat/general/"}
    )
    assert answer.json()["next"] == "/chat/general/"


@pytest.mark.parametrize("unsafe", ["https://evil.example/", "//evil.example/x", "javascript:x"])
def test_unsafe_next_is_ignored(client, user, unsafe):
    answer = post(client, "login", {"username": "alice", "password": PASSWORD, "next": unsafe})
    assert answer.json()["next"] is None


def test_signup_creates_and_logs_in(client, db):
    answer = post(
        client,
        "signup",
        {"username": "dave", "password1": "a-long-pass-phrase", "password2": "a-long-pass-phrase"},
    )
    assert answer.status_code == 200
    assert answer.json()["username"] == "dave"
    assert client.get("/account").context["user"].username == "dave"


def test_signup_shows_password_validation_errors(client, db):
    answer = post(client, "signup", {"username": "dave", "password1": "123", "password2": "123"})
    assert answer.status_code == 400
    messages = " ".join(answer.json()["errors"]["password2"])
    assert "too short" in messages
    assert not get_user_model().objects.filter(username="dave").exists()


def test_signup_refuses_taken_username(client, user):
    answer = post(
        client,
        "signup",
        {"username": "alice", "password1": "a-long-pass-phrase", "password2": "a-long-pass-phrase"},
    )
    assert answer.status_code == 400
    assert "already exists" in answer.json()["errors"]["username"][0]


def test_login_is_throttled_after_repeated_failures(client, user):
    for _ in range(5):
        assert post(client, "login", {"username": "alice", "password": "nope"}).status_code == 400
    answer = post(client, "login", {"username": "alice", "password": PASSWORD})
    assert answer.status_code == 429
    assert answer.json() == {
        "ok": False,
        "error": "Too many failed logins: try again in 15 minutes.",
    }
    assert answer["Retry-After"] == "900"


def test_throttle_is_per_username_and_forgets(client, user):
    for _ in range(5):
        post(client, "login", {"username": "ALICE", "password": "nope"})
    assert post(client, "login", {"username": "bob", "password": "x"}).status_code == 400
    # What the end of the window does:
    ThrottleCount.objects.update(expires=timezone.now() - timedelta(seconds=1))
    assert post(client, "login", {"username": "alice", "password": PASSWORD}).status_code == 200


def test_a_form_without_password_is_not_counted(client, user):
    for _ in range(10):
        assert post(client, "login", {"username": "alice"}).status_code == 400
    assert post(client, "login", {"username": "alice", "password": PASSWORD}).status_code == 200


def test_successful_login_resets_the_username_count(client, user):
    for _ in range(4):
        post(client, "login", {"username": "alice", "password": "nope"})
    assert post(client, "login", {"username": "alice", "password": PASSWORD}).status_code == 200
    post(client, "logout")
    for _ in range(4):
        post(client, "login", {"username": "alice", "password": "nope"})
    assert post(client, "login", {"username": "alice", "password": PASSWORD}).status_code == 200


def test_oversized_body_is_a_json_413(client, db):
    answer = post(client, "login", {"username": "a" * 20_000, "password": "x"})
    assert answer.status_code == 413
    assert answer.json()["ok"] is False


def test_non_form_body_is_a_400_with_errors(client, db):
    answer = client.post(
        reverse("account:login"),
        data='{"username": "alice"}',
        content_type="application/json",
        headers={"X-CSRFToken": csrf_token(client)},
    )
    assert answer.status_code == 400
    assert "username" in answer.json()["errors"]


def test_unicode_usernames_sign_up_and_log_in(client, db):
    name = "Zoë_漢字"
    signup = post(
        client,
        "signup",
        {"username": name, "password1": "a-long-pass-phrase", "password2": "a-long-pass-phrase"},
    )
    assert signup.status_code == 200
    post(client, "logout")
    answer = post(client, "login", {"username": name, "password": "a-long-pass-phrase"})
    assert answer.json()["username"] == name


def test_pages_forbid_inline_scripts(client, user):
    client.force_login(user)
    for url in ("/account", "/chat/", "/chat/general/"):
        response = client.get(url)
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy
        assert "unsafe-inline" not in policy
        html = response.content.decode()
        assert "<script>" not in html  # every script comes from a static file
