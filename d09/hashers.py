"""Password hashers that compute off the event loop.

A worker serves every client from one event loop (eventlet, or gevent). Django's
default hasher, PBKDF2 with 1,000,000 iterations, takes about 0.3 s of CPU; run on
the loop, it stops every chat connection of the worker for that long, and a few
logins a second stop them for good. hashlib computes PBKDF2 and scrypt in OpenSSL
with the GIL released, so on a real OS thread the hash runs beside the loop (and
on another core).

These are Django's own hashers with ``encode`` (which ``verify``, ``harden_runtime``
and ``make_password`` all go through) run by :func:`off_loop`. The algorithm names
are unchanged: stored hashes verify with or without them. Every path that hashes
goes through the hasher: login (including the dummy hash Django computes for an
unknown username), signup, password change, the admin.

Off the loop is not enough when the hash and the loop share a core (one core per
worker, or more logins a second than the machine has cores): the kernel then
shares that core evenly, and ten logins a second still slowed every chat
connection. The thread that hashes runs at the lowest priority (nice 19, a
per-thread attribute on Linux): it gets the CPU the loop leaves. Logins wait
longer under load; the chat does not.
"""

from functools import partial

from django.conf import settings
from django.contrib.auth import hashers

from d09.offloop import LOW_NICENESS as HASHING_NICENESS  # noqa: F401 (tests read it here)
from d09.offloop import at_low_priority, green_thread_pool


class HashingBusy(Exception):
    """HASHES_IN_FLIGHT hashes are already running or waiting in this worker.

    A login flood made the queue of hashes grow without end: at 10 logins a
    second on a spare core serving 3, the median login waited 20 s and the
    queue kept growing. Over the limit a request is answered at once (503, by
    d09.middleware.HashingBusyMiddleware) and is not counted as a failed login.
    """


_hashes_in_flight = 0  # green threads share one OS thread: no lock needed


def off_loop(function, *args):
    """``function(*args)``, run on a real OS thread when the process runs on green
    threads, the calling green thread waiting without blocking the others; run
    directly otherwise (tests, management commands, a threaded server).

    eventlet: ``eventlet.tpool`` (a pool of OS threads, ``EVENTLET_THREADPOOL_SIZE``,
    20 by default). gevent: the hub's thread pool (10 threads by default). Only
    pure functions belong here: nothing that touches the database or a socket.
    HashingBusy when HASHES_IN_FLIGHT are on their way already.
    """
    run_on_pool = green_thread_pool()
    if run_on_pool is None:
        return function(*args)
    return bounded(run_on_pool, function, *args)


def bounded(run_on_pool, function, *args):
    """``run_on_pool(at_low_priority, function, *args)``, unless HASHES_IN_FLIGHT
    calls are under way already (HashingBusy)."""
    global _hashes_in_flight
    limit = getattr(settings, "HASHES_IN_FLIGHT", 0)  # 0 in settings without it: no limit
    if limit and _hashes_in_flight >= limit:
        raise HashingBusy
    _hashes_in_flight += 1
    try:
        return run_on_pool(at_low_priority, function, *args)
    finally:
        _hashes_in_flight -= 1


class OffLoopEncodeMixin:
    def encode(self, password, salt, *args, **kwargs):
        return off_loop(partial(super().encode, password, salt, *args, **kwargs))


class PBKDF2PasswordHasher(OffLoopEncodeMixin, hashers.PBKDF2PasswordHasher):
    pass


class PBKDF2SHA1PasswordHasher(OffLoopEncodeMixin, hashers.PBKDF2SHA1PasswordHasher):
    pass


class ScryptPasswordHasher(OffLoopEncodeMixin, hashers.ScryptPasswordHasher):
    pass
