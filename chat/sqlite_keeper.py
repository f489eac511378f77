"""Keep SQLite from checkpointing the WAL inside every chat message handler.

SQLite calls never yield to eventlet: while one runs, the whole worker waits.
Every event handler opens its own Django connection and closes it at the end
(chat.realtime.releases_db_connections). When the last connection to a WAL
database closes, SQLite checkpoints the WAL into the database file, fsyncs it
and deletes the WAL: that made storing one message cost about 2-3 ms of the
event loop, with tails of tens of ms (bench/README.md, "DB stall").

One extra connection held open for the life of the process (the "keeper")
means a handler's close is never the last one. SQLite's own automatic
checkpoint (every 1000 WAL pages, inside a commit) still runs and is now the
tail (p99 of a few ms); moving it off the event loop is a possible next step
(bench/README.md). Only for a file-backed sqlite3 database; a no-op otherwise.
"""

import sqlite3

from django.db import connections


def keep_sqlite_open():
    """Open the keeper connection (returned, keep a reference); None if not SQLite."""
    settings = connections["default"].settings_dict
    name = str(settings.get("NAME", ""))
    if settings["ENGINE"] != "django.db.backends.sqlite3":
        return None
    if not name or name == ":memory:" or name.startswith("file:"):
        return None
    keeper = sqlite3.connect(name, check_same_thread=False)
    # A first read maps the WAL index: from then on this connection counts as open.
    keeper.execute("PRAGMA journal_mode").fetchall()
    return keeper
