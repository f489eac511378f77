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
"""

import sys
from functools import partial

from django.contrib.auth import hashers


def off_loop(function, *args):
    """``function(*args)``, run on a real OS thread when the process runs on green
    threads, the calling green thread waiting without blocking the others; run
    directly otherwise (tests, management commands, a threaded server).

    eventlet: ``eventlet.tpool`` (a pool of OS threads, ``EVENTLET_THREADPOOL_SIZE``,
    20 by default). gevent: the hub's thread pool (10 threads by default). Only
    pure functions belong here: nothing that touches the database or a socket.
    """
    eventlet_patcher = sys.modules.get("eventlet.patcher")
    if eventlet_patcher is not None and eventlet_patcher.is_monkey_patched("thread"):
        from eventlet import tpool

        return tpool.execute(function, *args)
    gevent_monkey = sys.modules.get("gevent.monkey")
    if gevent_monkey is not None and gevent_monkey.is_module_patched("threading"):
        import gevent

        return gevent.get_hub().threadpool.apply(function, args)
    return function(*args)


class OffLoopEncodeMixin:
    def encode(self, password, salt, *args, **kwargs):
        return off_loop(partial(super().encode, password, salt, *args, **kwargs))


class PBKDF2PasswordHasher(OffLoopEncodeMixin, hashers.PBKDF2PasswordHasher):
    pass


class PBKDF2SHA1PasswordHasher(OffLoopEncodeMixin, hashers.PBKDF2SHA1PasswordHasher):
    pass


class ScryptPasswordHasher(OffLoopEncodeMixin, hashers.ScryptPasswordHasher):
    pass
