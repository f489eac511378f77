"""Database connections for the Socket.IO event handlers: lent, not opened per event.

Django keeps one connection per thread, and under eventlet every event runs in
a green thread of its own: left alone, each event would open a connection and
leave it open; closing it at the end of each event (what this module did
first) makes every event pay for a new connection:

* SQLite never yields, so that cost froze every connection of the worker:
  about 0.35 ms to connect (Django's SQL functions, PRAGMAs), and the close of
  the last connection to a WAL database checkpoints the WAL with an fsync
  (2-3 ms, tails of tens of ms).
* PostgreSQL yields while it waits, but a TCP connection, authentication and
  session setup per message capped one worker at about 200 messages/s.

So a handler borrows an idle connection for its duration and gives it back
(bench/README.md, "database work on the event loop"). A lent connection serves
one green thread at a time. Django refuses a connection used by another thread
than its creator unless told that it is shared (``inc_thread_sharing``), which
is what lending does. A connection that saw an error, or is left inside a
transaction, is closed instead of lent again; one that sat idle for a while is
checked (``SELECT 1`` on PostgreSQL) before it is lent, so a database restart
costs no event an error.

``EVENT_DB_IDLE_CONNECTIONS`` (default 8) caps the idle connections kept per
process; busier moments open more and close them when they come back.
``EVENT_DB_CHECK_IDLE_SECONDS`` (default 10) is the idle time after which a
connection is checked before it is lent (0: always).
"""

import contextlib
import functools
import time

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections


class ConnectionLender:
    def __init__(self, alias=DEFAULT_DB_ALIAS, keep_idle=None, health_check_after=None):
        self.alias = alias
        # None: the settings, read when used (the lender exists before settings
        # are configured). health_check_after: idle seconds after which a
        # connection is checked before it is lent (a restarted database or a
        # proxy's idle timeout leaves broken ones behind).
        self._keep_idle = keep_idle
        self._health_check_after = health_check_after
        self._idle = []  # (connection, time it came back), newest last

    @property
    def keep_idle(self):
        if self._keep_idle is None:
            return settings.EVENT_DB_IDLE_CONNECTIONS
        return self._keep_idle

    @keep_idle.setter
    def keep_idle(self, count):
        self._keep_idle = count

    @property
    def health_check_after(self):
        if self._health_check_after is None:
            return settings.EVENT_DB_CHECK_IDLE_SECONDS
        return self._health_check_after

    @health_check_after.setter
    def health_check_after(self, seconds):
        self._health_check_after = seconds

    def lends(self):
        """False for an in-memory SQLite database (each connection would see its
        own empty database; Django's test database is one). Read each time."""
        settings = connections.settings[self.alias]
        name = str(settings.get("NAME") or "")
        in_memory = name in ("", ":memory:") or name.startswith("file:")
        return not (settings["ENGINE"] == "django.db.backends.sqlite3" and in_memory)

    @contextlib.contextmanager
    def connection_for_event(self):
        """This green thread's connection for the duration of one event."""
        if not self.lends():
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
        """Open one idle connection now. On SQLite, while one stays open no
        handler's close is the last one (which would checkpoint the WAL)."""
        if not self.lends():
            return False
        connection = self._borrow()
        connection.ensure_connection()
        self._give_back(connection)
        return True

    def idle_count(self):
        return len(self._idle)

    def _borrow(self):
        while self._idle:
            connection, since = self._idle.pop()
            if time.monotonic() - since < self.health_check_after or self._usable(connection):
                return connection
            with contextlib.suppress(DatabaseError):  # it is broken already
                connection.close()
        connection = connections.create_connection(self.alias)
        connection.inc_thread_sharing()
        return connection

    @staticmethod
    def _usable(connection):
        return connection.connection is None or connection.is_usable()

    def _give_back(self, connection):
        clean = not (
            connection.errors_occurred or connection.needs_rollback or connection.in_atomic_block
        ) and (connection.connection is None or connection.get_autocommit())
        if clean and len(self._idle) < self.keep_idle:
            self._idle.append((connection, time.monotonic()))
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
