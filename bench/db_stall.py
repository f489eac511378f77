"""How long the event loop stands still for the database (SQLite never yields).

    DATABASE_URL=sqlite:////abs/copy.sqlite3 SECRET_KEY=... .venv/bin/python bench/db_stall.py

Times, call by call, what the ``message`` handler does around the database
(``d09.runtime.event_db.with_event_db_connection`` around store_message) and what a
joiner costs (chat.connection.admit + chat.messages.history), with
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
from d09.runtime.event_db import (  # noqa: E402
    ConnectionLender,
    event_connections,
    with_event_db_connection,
)
from d09.runtime.gc_tuning import tune_gc  # noqa: E402


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
    # BENCH_SESSIONS: the sessions of another database (bench/search.py on PostgreSQL).
    path = os.environ.get("BENCH_SESSIONS") or ROOT / "bench/.work/sessions.json"
    sessions = json.loads(Path(path).read_text())
    environ = {"HTTP_COOKIE": sessions[0]["cookie"]}
    member, _ = admit(environ, {"room": "bench-0"})
    connections.close_all()
    tune_gc()  # as sio_server.py does: no collector pauses inside the timings

    # 1. For comparison, a connection opened and closed per event (what
    #    d09.runtime.event_db does for PostgreSQL, and did for SQLite before): first
    #    alone (each close is the last one and checkpoints the WAL), then with
    #    another connection held open.
    def per_event():
        close_old_connections()
        try:
            messages.store_message(member, "db stall probe")
        finally:
            connections.close_all()

    per_event_last = summary(timed(per_event, count))
    ConnectionLender().keep_one_open()  # its idle connection stays open
    per_event_other_open = summary(timed(per_event, count))

    # 2. The message handler's database work as chat/events.py wraps it and
    #    sio_server.py starts it: a borrowed connection, one kept open.
    event_connections.keep_one_open()
    store = with_event_db_connection(lambda: messages.store_message(member, "db stall probe"))
    lent = summary(timed(store, count))

    # 3. A joiner: admit (session, user, room) + history; queries counted.
    with CaptureQueriesContext(connection) as joined:
        admit(environ, {"room": "bench-0"})
        before_history = len(joined.captured_queries)
        messages.history(member.room_id, member.room_slug)
        messages.history(member.room_id, member.room_slug, after=1)
    queries_history = (len(joined.captured_queries) - before_history) / 2
    join = with_event_db_connection(
        lambda: (admit(environ, {"room": "bench-0"}), messages.history(1, "bench-0"))
    )
    print(
        json.dumps(
            {
                "store_message_in_handler": lent,
                "store_message_connection_per_event": per_event_other_open,
                "store_message_connection_per_event_last_close": per_event_last,
                "join_admit_and_history": summary(timed(join, count // 4)),
                "queries_admit": before_history,
                "queries_history": queries_history,
            }
        )
    )


if __name__ == "__main__":
    main()
