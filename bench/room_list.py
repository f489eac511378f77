"""What opening the room list costs with a big message table (issue 21, item 4).

A SQLite database of its own with MESSAGES messages in ROOMS rooms (plus a few
direct conversations); one reader with a read mark in every room, some far
behind. Times the queries of one room-list open (``chat.lobby.Lobby.enter``
and the ``/chat/`` page: unread counts and each room's newest message) as the
code does them now, next to the grouped queries they replaced ("before").

    .venv/bin/python bench/room_list.py                  # 1,000,000 messages, ~1 min
    .venv/bin/python bench/room_list.py --messages 100000 --repeat 20

It writes its figures as JSON to bench/results/room-list-<label>.json.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def setup_django(database):
    os.environ["DATABASE_URL"] = f"sqlite:///{database}"
    os.environ.setdefault("SECRET_KEY", "bench-room-list-" + "x" * 40)
    os.environ["DJANGO_SETTINGS_MODULE"] = "d09.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def fill(messages, rooms):
    """``messages`` rows over ``rooms`` open rooms, in one transaction of plain
    inserts (the ORM would take minutes); the reader's marks."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from chat.models import ReadMark, Room

    users = get_user_model().objects
    reader = users.create_user("reader")
    writers = [users.create_user(f"writer{n}") for n in range(10)]
    made = [Room.objects.create(name=f"bench room {n}", slug=f"bench-{n}") for n in range(rooms)]
    with transaction.atomic(), connection.cursor() as cursor:
        batch = []
        for number in range(messages):
            room = made[number % rooms]
            author = writers[number % len(writers)]
            deleted = "2026-01-01 00:00:00" if number % 97 == 0 else None
            batch.append((room.pk, author.pk, f"message {number}", number, deleted))
            if len(batch) == 10_000:
                cursor.executemany(
                    "INSERT INTO chat_message (room_id, author_id, text, created, "
                    "client_message_id, seq, mentions, deleted) "
                    "VALUES (%s, %s, %s, '2026-01-01 00:00:00', '', %s, '[]', %s)",
                    batch,
                )
                batch = []
    # Marks: most rooms read up to near the end, a few far behind.
    newest = messages
    for index, room in enumerate(made):
        behind = 5_000 if index % 10 == 0 else 20
        ReadMark.objects.create(user=reader, room=room, last_read_id=max(0, newest - behind))
    return reader


def before_unread_counts(user_id):
    """The grouped query of the code before (a join and GROUP BY over messages)."""
    from django.db.models import Count, F

    from chat.models import Message, ReadMark

    counts = {
        slug: 0
        for slug in ReadMark.objects.filter(user_id=user_id).values_list("room__slug", flat=True)
    }
    rows = (
        Message.objects.filter(
            room__read_marks__user_id=user_id, id__gt=F("room__read_marks__last_read_id")
        )
        .exclude(author_id=user_id)
        .values("room__slug")
        .annotate(unread=Count("id"))
    )
    counts.update({row["room__slug"]: row["unread"] for row in rows})
    return counts


def before_newest_ids():
    from django.db.models import Max

    from chat.models import Message

    rows = Message.objects.values("room__slug").annotate(newest=Max("id"))
    return {row["room__slug"]: row["newest"] for row in rows}


def timed(function, repeat):
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples), 2),
        "max_ms": round(samples[-1], 2),
        "runs": repeat,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--rooms", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--label", default="latest")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="d09-bench-room-list-"))
    setup_django(folder / "db.sqlite3")
    started = time.perf_counter()
    reader = fill(args.messages, args.rooms)
    filled_s = time.perf_counter() - started

    from chat import access, reading

    def open_now():
        reading.unread_counts(reader.pk)
        reading.newest_ids(access.visible_rooms(reader.pk))
        access.direct_rooms(reader.pk, "reader")

    def open_before():
        before_unread_counts(reader.pk)
        before_newest_ids()

    assert {
        slug: count
        for slug, count in reading.unread_counts(reader.pk).items()
        if slug.startswith("bench-")
    }, "no unread counts"
    figures = {
        "messages": args.messages,
        "rooms": args.rooms,
        "fill_s": round(filled_s, 1),
        "room_list_open_now": timed(open_now, args.repeat),
        "room_list_open_before": timed(open_before, args.repeat),
        "unread_counts_now": timed(lambda: reading.unread_counts(reader.pk), args.repeat),
        "unread_counts_before": timed(lambda: before_unread_counts(reader.pk), args.repeat),
        "newest_ids_now": timed(
            lambda: reading.newest_ids(access.visible_rooms(reader.pk)), args.repeat
        ),
        "newest_ids_before": timed(before_newest_ids, args.repeat),
    }
    out = ROOT / "bench" / "results" / f"room-list-{args.label}.json"
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
