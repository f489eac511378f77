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
worker now lets at most JOINS_IN_FLIGHT new sessions on their way into a room at
once (``JoinSlots``): each join costs a few milliseconds of the loop, so this
bounds the work a crowd can queue. The next sessions wait for a slot in arrival
order (their TCP connection open, costing no CPU) and get ``503`` only after
JOIN_WAIT seconds. Refusing them at once was tried first (while the loop was
late): the refused clients came back within seconds, and answering them took a
third of the worker's CPU. The clients already in are served on time, and the
storm is admitted at the pace the worker can serve.
"""

import logging
import random
import resource
from collections import deque

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


class JoinSlots:
    """At most ``slots`` new sessions on their way into a room at once.

    A new session takes a slot before its handshake (``take``), waiting for
    one up to ``wait`` seconds in arrival order; refusing it instead would cost
    as much as its handshake (the request is read and answered) and bring it
    back a moment later. The slot is given back when the session has joined a
    room or gone (``give_back``), or ``hold_for`` seconds after it was taken,
    so that sessions that never join cannot keep the door shut.

    Not eventlet's Semaphore: its ``acquire`` looks itself up in, and removes
    itself from, a deque of all the waiters, O(waiters) each; with thousands
    waiting after a restart that was a tenth of the worker's CPU. Here a waiter
    is an Event at the end of a deque, a slot given back goes to the first one
    still waiting, and one that stopped waiting is only marked (skipped when
    its turn comes): O(1) each.
    """

    def __init__(self, slots, wait=10.0, hold_for=1.0):
        from eventlet.event import Event
        from eventlet.hubs import get_hub

        self._turn = Event  # sent True: the slot is this session's
        self._free = slots
        self._turns = deque()  # an Event per session in the queue, oldest first
        self._waiting = 0  # sessions in the queue still waiting
        self._hub = get_hub
        self.wait = wait
        self.hold_for = hold_for
        self._held = set()

    def take(self):
        """A slot (a token to give back), or None after waiting ``wait`` seconds."""
        if self._free > 0 and not self._waiting:  # nobody jumps the queue
            self._free -= 1
            return self._hold()
        turn = self._turn()
        self._turns.append(turn)
        self._waiting += 1
        try:
            turn.wait(self.wait)
        except BaseException:  # the session's green thread was killed
            self._leave_queue(turn)
            raise
        finally:
            self._waiting -= 1
        if turn.ready():  # handed a slot, maybe just as the wait ran out
            return self._hold()
        self._leave_queue(turn)
        return None

    def give_back(self, token):
        if token in self._held:
            self._held.remove(token)
            self._pass_on()

    def in_use(self):
        return len(self._held)

    def waiting(self):
        """Sessions waiting for a slot: each holds a connection of the pool."""
        return self._waiting

    def _hold(self):
        token = object()
        self._held.add(token)
        self._hub().schedule_call_global(self.hold_for, self.give_back, token)
        return token

    def _pass_on(self):
        """A slot is free: to the session that has waited longest, or back to the pool."""
        while self._turns:
            turn = self._turns.popleft()
            if not turn.ready():
                turn.send(True)
                return
        self._free += 1

    def _leave_queue(self, turn):
        if turn.ready():  # a slot was handed to a session that is going away
            self._pass_on()
        else:
            turn.send(False)  # its place is skipped when its turn comes


def retry_after():
    """Seconds a refused client is told to wait: spread, so that a crowd
    refused at once does not come back at once."""
    return random.randint(1, 5)
