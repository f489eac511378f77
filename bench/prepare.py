"""Create the bench database: rooms, N users and one logged-in session per user.

    DATABASE_URL=sqlite:////abs/bench.sqlite3 SECRET_KEY=... \
        .venv/bin/python bench/prepare.py --users 10000 --rooms 100 --out sessions.json

Users are created with an unusable password (hashing 10,000 PBKDF2 passwords
would take an hour and the bench never types one). Sessions are what
``django.contrib.auth.login`` writes (``_auth_user_id``, ``_auth_user_backend``,
``_auth_user_hash``), encoded by the configured SessionStore and bulk-inserted:
the server checks them exactly as it checks a browser's (session lookup, user,
auth hash). run.py also logs one user in through ``POST /account/login`` (the
real page flow, CSRF included) to prove both kinds of cookie are accepted.

``--login-users a,b --login-password pw`` also creates those users with a real,
usable password (hashed by the project's hasher, as a signup does: about 0.35 s
each), for the logins scenario, whose logins must really hash.

``BENCH_SERVER_ROOT`` names the checkout whose project is imported (run.py's
--server-root); by default the one this file is in.

Writes ``[{"user": name, "cookie": "sessionid=..."}, ...]`` in user order.
"""

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(os.environ.get("BENCH_SERVER_ROOT") or Path(__file__).resolve().parent.parent)
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "d09.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import (  # noqa: E402
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    get_user_model,
)
from django.contrib.auth.hashers import make_password  # noqa: E402
from django.contrib.sessions.backends.db import SessionStore  # noqa: E402
from django.contrib.sessions.models import Session  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402
from django.utils import timezone  # noqa: E402
from django.utils.crypto import get_random_string  # noqa: E402

from chat.models import Room  # noqa: E402

BACKEND = "django.contrib.auth.backends.ModelBackend"


def username(i):
    return f"bench{i:05d}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--rooms", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--login-users", default="")
    parser.add_argument("--login-password", default="")
    args = parser.parse_args()

    call_command("migrate", "--noinput", verbosity=0)
    User = get_user_model()
    with transaction.atomic():
        for r in range(args.rooms):
            Room.objects.get_or_create(slug=f"bench-{r}", defaults={"name": f"Bench {r}"})
        existing = set(
            User.objects.filter(username__startswith="bench").values_list("username", flat=True)
        )
        unusable = make_password(None)
        User.objects.bulk_create(
            [
                User(username=username(i), password=unusable)
                for i in range(args.users)
                if username(i) not in existing
            ],
            batch_size=1000,
        )
        users = {
            u.username: u
            for u in User.objects.filter(username__in=[username(i) for i in range(args.users)])
        }
        store = SessionStore()
        expiry = timezone.now() + timezone.timedelta(seconds=settings.SESSION_COOKIE_AGE)
        rows, cookies = [], []
        for i in range(args.users):
            user = users[username(i)]
            key = get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789")
            data = {
                SESSION_KEY: str(user.pk),
                BACKEND_SESSION_KEY: BACKEND,
                HASH_SESSION_KEY: user.get_session_auth_hash(),
            }
            encoded = store.encode(data)
            rows.append(Session(session_key=key, session_data=encoded, expire_date=expiry))
            cookies.append(
                {"user": user.username, "cookie": f"{settings.SESSION_COOKIE_NAME}={key}"}
            )
        Session.objects.bulk_create(rows, batch_size=1000)
    for name in filter(None, args.login_users.split(",")):
        user, _created = User.objects.get_or_create(username=name)
        if not user.check_password(args.login_password):
            user.set_password(args.login_password)
            user.save(update_fields=["password"])
    Path(args.out).write_text(json.dumps(cookies))
    print(f"{len(cookies)} sessions, {args.rooms} rooms -> {args.out}")


if __name__ == "__main__":
    main()
