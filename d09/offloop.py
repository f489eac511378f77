"""Running CPU-heavy pure work on a real OS thread while the event loop goes on.

A worker serves every client from one event loop (eventlet or gevent): a
password hash (d09/hashers.py) or an image decoded and re-encoded
(chat/attachments/) would stop every chat connection for as long as it takes.
Here it runs on the hub's pool of OS threads, at the lowest priority, while
the calling green thread waits without blocking the others.
"""

import contextlib
import os
import sys

LOW_NICENESS = 19


def green_thread_pool():
    """How to run a function on an OS thread from a green thread, or None."""
    eventlet_patcher = sys.modules.get("eventlet.patcher")
    if eventlet_patcher is not None and eventlet_patcher.is_monkey_patched("thread"):
        from eventlet import tpool

        return tpool.execute
    gevent_monkey = sys.modules.get("gevent.monkey")
    if gevent_monkey is not None and gevent_monkey.is_module_patched("threading"):
        import gevent

        pool = gevent.get_hub().threadpool
        return lambda function, *args: pool.apply(function, args)
    return None


def at_low_priority(function, *args):
    """``function(*args)`` with the calling OS thread (a pool thread, never the
    loop's) at the lowest priority. On Linux ``setpriority(PRIO_PROCESS, 0)``
    applies to the calling thread alone; raising one's own niceness needs no
    privilege. Elsewhere the function runs as it is."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, 0, LOW_NICENESS)
    return function(*args)


def off_loop(function, *args):
    """``function(*args)`` on a low-priority OS thread when the process runs on
    green threads; directly otherwise (tests, management commands). Only pure
    work belongs here: nothing that touches the database or a socket."""
    run_on_pool = green_thread_pool()
    if run_on_pool is None:
        return function(*args)
    return run_on_pool(at_low_priority, function, *args)
