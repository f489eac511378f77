"""Rooms and messages: the data migration, the admin, and the history index."""

import subprocess
import sys

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from chat.models import Message, Room
from tests.support.server import ROOT


def test_the_data_migration_is_reversible(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "SECRET_KEY": "migration-test-" + "m" * 40,
        "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
    }

    def manage(*args):
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    count = "from chat.models import Room; print(Room.objects.count())"
    manage("migrate", "--noinput")

    def rooms():
        return manage("shell", "-c", count).strip().splitlines()[-1]

    assert rooms() == "3"
    manage("migrate", "chat", "0001", "--noinput")
    assert rooms() == "0"
    manage("migrate", "--noinput")
    assert rooms() == "3"


def test_recent_messages_use_the_room_index(db):
    room = Room.objects.get(slug="general")
    query = str(Message.objects.filter(room=room).order_by("-id")[:3].query)
    with connection.cursor() as cursor:
        plan = " ".join(str(row) for row in cursor.execute(f"EXPLAIN QUERY PLAN {query}"))
    # A range scan of an index on room_id, already in id order: no table scan, no sort.
    assert "USING INDEX" in plan
    assert "TEMP B-TREE" not in plan


@pytest.fixture
def admin_client(client, db):
    admin = get_user_model().objects.create_superuser("root", password="x")
    client.force_login(admin)
    return client


def test_rooms_and_messages_are_in_the_admin(admin_client):
    author = get_user_model().objects.create_user("eve")
    Message.objects.create(
        room=Room.objects.first(), author=author, text="<script>alert(1)</script>"
    )
    assert admin_client.get("/admin/chat/room/").status_code == 200
    page = admin_client.get("/admin/chat/message/").content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)</script>" not in page


def test_the_admin_shows_deleted_messages_as_such_and_lists_mutes(admin_client):
    from datetime import timedelta

    from django.utils import timezone

    from chat.models import Mute

    author = get_user_model().objects.create_user("eve")
    room = Room.objects.first()
    Message.objects.create(room=room, author=author, text="", deleted=timezone.now())
    page = admin_client.get("/admin/chat/message/?deleted__isempty=0").content.decode()
    assert "(deleted)" in page
    Mute.objects.create(room=room, user=author, until=timezone.now() + timedelta(minutes=5))
    assert "eve" in admin_client.get("/admin/chat/mute/").content.decode()
