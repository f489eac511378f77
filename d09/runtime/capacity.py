"""How many connections a worker takes, so that a storm never makes it fall over.

Every WebSocket holds a file descriptor and a slot of gunicorn's pool
(``worker_connections``) for its whole life. Two things went wrong in a
reconnect storm of 10,000 clients: the worker ran out of descriptors ("Too many
open files": SQLite could not open the database, and gunicorn's eventlet
acceptor died on the failed ``accept()``, leaving the worker deaf until a
restart), and once the pool was full of WebSockets nothing else was accepted,
not even a page. So, in each worker:

- the soft descriptor limit is raised to the hard one, and the pool is made to
  fit under it with room to spare for the database, Redis and log files;
- Engine.IO sessions are capped a little below the pool, and a new one over the
  cap gets ``503`` with ``Retry-After`` (clients retry with backoff), so that
  page requests always find a free slot.

Descriptors were not the only way down. After a restart, 10,000 clients came
back within two seconds; the worker took every handshake, and the work queued
on its one event loop grew to many seconds. Pings and pongs waited in that
queue too, so clients that were already back timed out (on both sides),
reconnected and added to the queue: the storm fed itself and never ended. A
worker now takes a new session only while its loop keeps up (``LoopWatch``):
when the loop is late by more than LOOP_LAG_LIMIT_MS, new sessions get the same
``503`` and come back with their backoff, and the clients already in are served
on time. The storm is admitted at the pace the worker can serve.
"""

import logging
import random
import resource
import time

logger = logging.getLogger(__name__)

# Descriptors kept for everything that is not a client: database connections,
# Redis, log files, eventlet's own.
RESERVED_DESCRIPTORS = 256
# Pool slots kept for page requests and other short HTTP requests.
HTTP_HEADROOM_SHARE = 0.05
MIN_HTTP_HEADROOM = 8

_session_cap = None  # set in each gunicorn worker; None: no cap (direct start)


def raise_descriptor_limit():
    """The soft RLIMIT_NOFILE raised to the hard one; the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):  # not allowed here: keep the soft one
            pass
    return soft


def fit(worker_connections, descriptor_limit):
    """``(pool size, session cap)`` for a worker asked for ``worker_connections``."""
    pool = max(1, min(worker_connections, descriptor_limit - RESERVED_DESCRIPTORS))
    headroom = max(MIN_HTTP_HEADROOM, int(pool * HTTP_HEADROOM_SHARE))
    return pool, max(1, pool - headroom)


def fit_worker(worker):
    """gunicorn's ``post_worker_init``: size this worker's pool and session cap."""
    global _session_cap
    limit = raise_descriptor_limit()
    pool, cap = fit(worker.worker_connections, limit)
    if pool < worker.worker_connections:
        worker.log.warning(
            "worker_connections %s does not fit under %s file descriptors: using %s",
            worker.worker_connections,
            limit,
            pool,
        )
    worker.worker_connections = pool
    _session_cap = cap
    worker.log.info("up to %s chat sessions in a pool of %s connections", cap, pool)


def at_capacity(open_sessions):
    """Whether a worker with ``open_sessions`` Engine.IO sessions must refuse more."""
    return _session_cap is not None and open_sessions >= _session_cap


class LoopWatch:
    """Whether this worker's event loop keeps up.

    A green thread (``run``) sleeps ``tick`` seconds over and over; how late
    it wakes is how long everything else on the loop waits. The loop is
    ``behind()`` when the last wake-up came later than ``limit`` seconds, or
    when the watch is overdue by more than ``limit`` now (a long stretch of
    work is running: the requests of that stretch see it at once).
    """

    def __init__(self, limit, sleep, clock=time.monotonic, tick=0.05):
        self.limit = limit
        self.tick = tick
        self._sleep = sleep
        self._clock = clock
        self.lag = 0.0
        self.last = clock()

    def run(self):
        while True:
            self.step()

    def step(self):
        """One tick: sleep, then record how late the wake-up was."""
        before = self._clock()
        self._sleep(self.tick)
        self.last = self._clock()
        self.lag = max(0.0, self.last - before - self.tick)

    def behind(self):
        if self.limit <= 0:
            return False
        overdue = self._clock() - self.last - self.tick
        return max(self.lag, overdue) > self.limit


def retry_after():
    """Seconds a refused client is told to wait: spread, so that a crowd
    refused at once does not come back at once."""
    return random.randint(1, 5)
