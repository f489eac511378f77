"""Database connections for the Socket.IO event handlers.

Django keeps one connection per thread, and under eventlet every event runs in
a green thread of its own: left alone, each event would open a connection and
leave it open. How a handler gets its connection depends on the database:

* **SQLite file** (the default deployment): SQLite calls never yield, so every
  millisecond spent in them freezes every connection of the worker. Opening a
  Django SQLite connection costs about 0.35 ms (connect, Django's SQL functions,
  PRAGMAs), and closing the last connection to a WAL database checkpoints the
  WAL with an fsync (2-3 ms, tails of tens of ms). So connections are *lent*: a
  handler borrows an idle connection for its duration and gives it back; one
  stays open for the life of the process, so no handler's close is ever the
  last one. Storing a message then blocks the event loop for 0.2 ms at the
  median (bench/README.md, "database work on the event loop").
  A lent connection serves one green thread at a time. Django refuses a
  connection used by another thread than its creator unless told that it is
  shared (``inc_thread_sharing``), which is what lending does.
* **Anything else** (PostgreSQL): a connection per event, closed when the
  handler ends. psycopg2 yields to the hub while it waits (d09/green.py), so
  connecting does not stall other connections.
"""

import contextlib
import functools

from django.db import DEFAULT_DB_ALIAS, close_old_connections, connections

# Idle connections kept for lending. SQLite handlers rarely overlap (only while
# one waits on Redis): a few cover that; beyond them, returned ones are closed.
KEEP_IDLE = 4


class ConnectionLender:
    def __init__(self, alias=DEFAULT_DB_ALIAS, keep_idle=KEEP_IDLE):
        self.alias = alias
        self.keep_idle = keep_idle
        self._idle = []

    def lends(self):
        """True for a file-backed SQLite database (read each time: tests swap it)."""
        settings = connections.settings[self.alias]
        name = str(settings.get("NAME") or "")
        return (
            settings["ENGINE"] == "django.db.backends.sqlite3"
            and name not in ("", ":memory:")
            and not name.startswith("file:")  # Django's shared in-memory test database
        )

    @contextlib.contextmanager
    def connection_for_event(self):
        """This green thread's connection for the duration of one event."""
        if not self.lends():
            close_old_connections()
            try:
                yield
            finally:
                connections.close_all()
            return
        connection = self._borrow()
        connections[self.alias] = connection
        try:
            yield
        finally:
            del connections[self.alias]
            connections.close_all()  # anything else the handler opened
            self._give_back(connection)

    def keep_one_open(self):
        """Open one idle connection now, so that no handler's close is the last."""
        if not self.lends():
            return False
        connection = self._borrow()
        connection.ensure_connection()
        self._give_back(connection)
        return True

    def idle_count(self):
        return len(self._idle)

    def _borrow(self):
        if self._idle:
            return self._idle.pop()
        connection = connections.create_connection(self.alias)
        connection.inc_thread_sharing()
        return connection

    def _give_back(self, connection):
        clean = not (
            connection.errors_occurred or connection.needs_rollback or connection.in_atomic_block
        ) and (connection.connection is None or connection.get_autocommit())
        if clean and len(self._idle) < self.keep_idle:
            self._idle.append(connection)
        else:
            connection.close()


event_connections = ConnectionLender()


def with_event_db_connection(handler):
    """Run ``handler`` with a database connection for this event (see the module)."""

    @functools.wraps(handler)
    def wrapper(*args, **kwargs):
        with event_connections.connection_for_event():
            return handler(*args, **kwargs)

    return wrapper
