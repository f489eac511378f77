"""A stopping worker's goodbye: a deploy loses nobody and does not storm the
new process (docs/deploy.md, "What a deploy does to connected users").

A host stops the old process with SIGTERM (Heroku: SIGKILL 30 s later). Left
alone, gunicorn's eventlet worker closes its listener and then waits for
connections that never end on their own, so every socket was cut at
``GRACEFUL_TIMEOUT`` and every page came back at the same moment. Instead, on
SIGTERM the worker:

1. takes no new session (``ChatServer.draining``; gunicorn closes the listener
   within a second, this covers the gap);
2. tells each connected session when to come back, ``server_restart``
   ``{"retry_after": seconds}``: the delays are spread evenly over
   ``sessions / DEPLOY_RETURN_RATE`` seconds (at most ``DEPLOY_SPREAD_MAX``),
   in a random order, so the new process sees a steady stream it can serve
   instead of everyone at once. The page's shim waits that long before its
   first attempt; standard Socket.IO clients ignore the event and reconnect
   with their own backoff after the close;
3. closes each session once the event it is handling is answered (an ack of a
   stored message goes out before the CLOSE packet; an unanswered send is sent
   again by the page with its ``client_message_id``, never stored twice), and
   whatever is still open after ``DEPLOY_SETTLE_SECONDS``;
4. does not tell the rooms that everybody left: they are all leaving, and they
   will be back in seconds. With Redis, ``worker_exit`` retires the process
   from the shared presence and the other processes drop its connections at
   their next reap, after most users are back: nobody sees a "left" and a
   "joined" for a restart.
"""

import logging
import random
import signal
import sys

logger = logging.getLogger(__name__)

EVENT = "server_restart"
YIELD_EVERY = 100  # sessions told between two turns of the event loop
# How long a new worker takes to serve after the old one exits (gunicorn, Django
# set up; 2.5 s measured in bench/ on two cores).
NEW_PROCESS_BOOT_SECONDS = 3


def spread_delays(count, rate, longest, first=0.0, shuffle=random.shuffle):
    """``count`` delays in seconds, evenly spaced over ``count / rate`` seconds
    (at most ``longest``) from ``first`` on, in a random order: the new process
    then admits about ``rate`` returning sessions a second, whoever they are."""
    if count <= 0:
        return []
    spread = min(longest, count / rate) if rate > 0 else 0
    step = spread / count
    delays = [round(first + index * step, 2) for index in range(count)]
    shuffle(delays)
    return delays


def first_return(settle):
    """When the first sessions are told to come back: once this process has
    settled and a new one has had time to boot (NEW_PROCESS_BOOT_SECONDS).
    Those told to come back sooner found no process yet: they waited in the
    listener's backlog (or retried) and reached the new process all together,
    ahead of the spread."""
    return settle + NEW_PROCESS_BOOT_SECONDS


def tell_to_come_back(server, eio_sid, delay):
    """``server_restart`` to every namespace the session is connected to."""
    for namespace in server.namespace_handlers:
        sid = server.manager.sid_from_eio_sid(eio_sid, namespace)
        if sid is not None:
            notice = {"retry_after": delay}
            server.emit(EVENT, notice, to=sid, namespace=namespace, ignore_queue=True)


def drain(server, rooms, rate, longest, settle):
    """Say goodbye to every session of ``server`` (a ChatServer), as above."""
    server.draining = True
    rooms.departing = True
    sessions = list(server.eio.sockets)
    logger.warning("stopping: telling %d sessions to come back over time", len(sessions))
    for told, (eio_sid, delay) in enumerate(
        zip(
            sessions, spread_delays(len(sessions), rate, longest, first_return(settle)), strict=True
        ),
        start=1,
    ):
        try:
            tell_to_come_back(server, eio_sid, delay)
            server.close_when_idle(eio_sid)
        except Exception:  # one broken session must not keep the others
            logger.exception("could not say goodbye to %s", eio_sid)
        if told % YIELD_EVERY == 0:
            server.sleep(0)
    server.sleep(settle)
    left = list(server.eio.sockets)
    if left:
        logger.warning("stopping: closing %d sessions still busy after %ss", len(left), settle)
    for eio_sid in left:
        server.close_session(eio_sid)


def drain_on_sigterm(worker):
    """Make gunicorn ``worker``'s SIGTERM start the drain, then stop as it
    would (its loop closes the listener and waits for the connections, at most
    ``GRACEFUL_TIMEOUT``). Called from gunicorn.conf.py's ``post_worker_init``,
    after gunicorn set its own handlers."""
    from django.conf import settings

    app = sys.modules["sio_server"]
    server, rooms = app.sio, app.sio.chat.rooms
    stop = worker.handle_exit

    def handle_exit(sig, frame):
        if not server.draining:  # the host and gunicorn's master both send it
            server.draining = True
            server.start_background_task(
                drain,
                server,
                rooms,
                settings.DEPLOY_RETURN_RATE,
                settings.DEPLOY_SPREAD_MAX,
                settings.DEPLOY_SETTLE_SECONDS,
            )
        stop(sig, frame)

    worker.handle_exit = handle_exit
    signal.signal(signal.SIGTERM, handle_exit)
