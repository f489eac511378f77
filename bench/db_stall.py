"""How long the event loop stands still for the database (SQLite never yields).

    DATABASE_URL=sqlite:////abs/copy.sqlite3 SECRET_KEY=... .venv/bin/python bench/db_stall.py

Times, call by call, what the ``message`` handler does around the database
(``releases_db_connections``: close_old_connections, store_message, close_all)
and what a joiner costs (chat.connection.admit + chat.messages.history), with
the query count of each. Under eventlet every one of these calls blocks the
whole process, so its wall time is the event loop's stall. Prints one JSON object.
"""

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "d09.settings")

import eventlet  # noqa: E402

eventlet.monkey_patch()  # as in the gunicorn eventlet worker

import django  # noqa: E402

django.setup()

from django.db import close_old_connections, connection, connections  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from chat import messages  # noqa: E402
from chat.connection import admit  # noqa: E402
from chat.realtime import releases_db_connections  # noqa: E402
from chat.sqlite_keeper import keep_sqlite_open  # noqa: E402


def summary(values):
    values = sorted(values)
    n = len(values)

    def pct(p):
        return round(values[min(n - 1, max(0, int(p / 100 * n + 0.5) - 1))] * 1000, 3)

    return {"n": n, "p50_ms": pct(50), "p90_ms": pct(90), "p99_ms": pct(99), "max_ms": pct(100)}


def timed(fn, count):
    times = []
    for _ in range(count):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        eventlet.sleep(0.001)  # paced like a busy room; lets background work run
    return times


def main(count=2000):
    sessions = json.loads((ROOT / "bench/.work/sessions.json").read_text())
    environ = {"HTTP_COOKIE": sessions[0]["cookie"]}
    member, _ = admit(environ, {"room": "bench-0"})
    connections.close_all()

    # 1. The message handler's database work, exactly as chat/realtime.py wraps it.
    store = releases_db_connections(lambda: messages.store_message(member, "db stall probe"))
    handler = summary(timed(store, count))

    # 1b. The same with chat.sqlite_keeper on, as sio_server.py starts it.
    keeper = keep_sqlite_open()
    kept = summary(timed(store, count))

    # 2. The same statements on a connection that stays open (what a persistent
    #    connection would cost): the difference is connect + PRAGMAs + close.
    close_old_connections()
    persistent = summary(timed(lambda: messages.store_message(member, "probe"), count))
    connections.close_all()

    # 3. A joiner: admit (session, user, room) + history; queries counted.
    with CaptureQueriesContext(connection) as joined:
        admit(environ, {"room": "bench-0"})
        before_history = len(joined.captured_queries)
        messages.history(member.room_id, member.room_slug)
        messages.history(member.room_id, member.room_slug, after=1)
    join = releases_db_connections(
        lambda: (admit(environ, {"room": "bench-0"}), messages.history(1, "bench-0"))
    )
    print(
        json.dumps(
            {
                "store_message_in_handler": handler,
                "store_message_in_handler_with_keeper": kept,
                "keeper": keeper is not None,
                "store_message_persistent_connection": persistent,
                "join_admit_and_history": summary(timed(join, count // 4)),
                "queries_admit": before_history,
                "queries_history": (len(joined.captured_queries) - before_history) / 2,
            }
        )
    )


if __name__ == "__main__":
    main()
