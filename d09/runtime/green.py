"""Make the PostgreSQL driver yield to the green-thread hub while it waits.

psycopg2 waits for the server inside libpq, which blocks the whole process
(every other client of it) unless a "wait callback" hands the waiting to the
event loop. eventlet.monkey_patch() installs eventlet's callback when psycopg2
is importable: gunicorn's eventlet worker (25.x) calls it when its module is
imported, and so does ``python sio_server.py``. gevent's patch_all() knows
nothing about psycopg2, so the gevent callback is installed here (the same
loop as the psycogreen package). SQLite has no such hook: it always blocks.
"""

import logging

from d09.offloop import at_low_priority, green_thread_pool

logger = logging.getLogger(__name__)


def make_psycopg2_green(async_mode):
    """Install the wait callback for ``async_mode`` unless one is there.

    Returns what it found or did, for the log: "absent" (no psycopg2),
    "already", "installed" or "unsupported" (another async mode).
    """
    try:
        from psycopg2 import extensions
    except ImportError:
        return "absent"
    if extensions.get_wait_callback() is not None:
        return "already"
    if async_mode == "eventlet":
        from eventlet.support import psycopg2_patcher

        psycopg2_patcher.make_psycopg_green()
    elif async_mode == "gevent":
        extensions.set_wait_callback(gevent_wait_callback)
    else:
        return "unsupported"
    return "installed"


def gevent_wait_callback(conn, timeout=None):
    """psycopg2 wait callback that waits in gevent's hub instead of libpq."""
    from gevent.socket import wait_read, wait_write
    from psycopg2 import OperationalError, extensions

    while True:
        state = conn.poll()
        if state == extensions.POLL_OK:
            return
        if state == extensions.POLL_READ:
            wait_read(conn.fileno(), timeout=timeout)
        elif state == extensions.POLL_WRITE:
            wait_write(conn.fileno(), timeout=timeout)
        else:
            raise OperationalError(f"Bad result from poll: {state!r}")


def on_os_thread(connection, function, *args):
    """``function(*args)`` on an OS thread of the green-thread pool (directly
    when there is none), for a database call that would hold the event loop:
    SQLite computes in the calling thread and never yields, but its C code lets
    go of the GIL meanwhile, so the loop runs beside it. ``connection`` (a
    Django connection the function uses, passed to it explicitly: the pool
    thread has connections of its own) is shared with that thread meanwhile;
    the green thread waits, so only one of them uses it at a time.

    At the lowest priority, as hashing is: the worker's threads share its core,
    and a search of a common word (about 200 ms of CPU at a million messages)
    at the loop's priority took that much from the chat (bench/README.md,
    "Search")."""
    run = green_thread_pool()
    if run is None:
        return function(*args)
    connection.ensure_connection()
    connection.inc_thread_sharing()
    try:
        return run(at_low_priority, function, *args)
    finally:
        connection.dec_thread_sharing()
