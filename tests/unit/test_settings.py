"""Settings come from the environment with safe defaults (checked in fresh processes)."""

import json

import pytest

from tests.support.process import run
from tests.support.server import ROOT

PRODUCTION = {
    "SECRET_KEY": "a-production-secret-" + "k" * 50,
    "HTTPS": "1",
    "ALLOWED_HOSTS": "chat.example.com",
    "DEBUG": "0",
}


def settings_of(env, *names):
    code = (
        "import json, django; django.setup(); from django.conf import settings; "
        f"print(json.dumps({{n: getattr(settings, n) for n in {list(names)!r}}}, default=str))"
    )
    result = run(code, env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_missing_secret_key_is_refused_when_debug_is_off():
    result = run("import django; django.setup()", {})
    assert result.returncode != 0
    assert "SECRET_KEY is not set and DEBUG is off" in result.stderr


def test_debug_allows_the_development_key():
    values = settings_of({"DEBUG": "1"}, "DEBUG", "SECRET_KEY")
    assert values["DEBUG"] is True
    assert values["SECRET_KEY"].startswith("django-insecure-")


@pytest.mark.parametrize("value", ["0", "false", "", "no"])
def test_debug_is_off_unless_turned_on(value):
    assert settings_of({**PRODUCTION, "DEBUG": value}, "DEBUG")["DEBUG"] is False


def test_lists_are_comma_separated():
    values = settings_of(
        {
            **PRODUCTION,
            "ALLOWED_HOSTS": "a.example, b.example",
            "CSRF_TRUSTED_ORIGINS": "https://a.example,https://b.example",
        },
        "ALLOWED_HOSTS",
        "CSRF_TRUSTED_ORIGINS",
    )
    assert values == {
        "ALLOWED_HOSTS": ["a.example", "b.example"],
        "CSRF_TRUSTED_ORIGINS": ["https://a.example", "https://b.example"],
    }


def test_database_url_default_is_sqlite_in_the_project():
    database = settings_of(PRODUCTION, "DATABASES")["DATABASES"]["default"]
    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert database["NAME"] == str(ROOT / "db.sqlite3")
    assert "journal_mode=WAL" in database["OPTIONS"]["init_command"]


def test_database_url_sqlite_absolute_path_and_postgres():
    sqlite = settings_of(
        {**PRODUCTION, "DATABASE_URL": "sqlite:////tmp/chat/x.sqlite3"}, "DATABASES"
    )
    assert sqlite["DATABASES"]["default"]["NAME"] == "/tmp/chat/x.sqlite3"
    pg = settings_of(
        {**PRODUCTION, "DATABASE_URL": "postgres://u:p@db.example:5433/chat"}, "DATABASES"
    )["DATABASES"]["default"]
    assert (pg["ENGINE"], pg["HOST"], pg["PORT"], pg["NAME"], pg["USER"]) == (
        "django.db.backends.postgresql",
        "db.example",
        5433,
        "chat",
        "u",
    )


def test_check_deploy_is_clean_with_production_values():
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_cookies_are_safe_by_default():
    values = settings_of(
        PRODUCTION,
        "SESSION_COOKIE_HTTPONLY",
        "SESSION_COOKIE_SAMESITE",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
    )
    assert values == {
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
    }
