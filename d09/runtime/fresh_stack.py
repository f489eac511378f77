"""Run a call on a fresh green-thread stack, at once, and come back with its result.

Why: every green thread keeps, for as long as it lives, each page of Python
stack it has ever touched (Python 3.11 gives each greenlet its own frame
stack). The green thread that reads a WebSocket lives as long as the
connection; when it ran the chat's handlers itself, the connect handler
(session, user, room, history: Django's ORM is deep) left each idle connection
~5 KB heavier for good (bench/README.md, finding 14). Run on a greenlet of
their own, the handlers' pages go away with it.

How: the caller (the reader) switches straight into a new greenlet whose parent
it is. A handler that never waits finishes there and control comes straight
back: no turn of the event loop in between, so a busy sender is not slowed
down (a green thread spawned through the hub and waited for halved one
sender's rate: each message then cost a full loop turn of the hub, which
is busy delivering the previous ones). A handler that waits (the database, a
lock) gives control to eventlet's hub like any green thread, and eventlet
then makes the hub its parent; when it ends, it schedules the reader to
resume. Either way the reader reads nothing meanwhile, so one client's events
still run one after another, in the order it sent them.

For eventlet's green threads; called from the hub itself, the call simply runs
where it is.
"""

import greenlet


def run_on_fresh_stack(function, *args):
    """``function(*args)`` on a new greenlet; its value returned, its exception raised."""
    from eventlet import hubs

    hub = hubs.get_hub()
    caller = greenlet.getcurrent()
    if caller is hub.greenlet:
        return function(*args)
    outcome = {}
    waiting = True  # the caller is suspended in helper.switch() below

    def wake_caller():
        if waiting:  # not if something else resumed it meanwhile (a kill at shutdown)
            caller.switch()

    def run():
        try:
            outcome["value"] = function(*args)
        except BaseException as error:  # raised again in the caller, as if run there
            outcome["error"] = error
        if helper.parent is not caller:
            # It waited in the hub, which became its parent: ending returns
            # there, so the caller needs a wake-up call.
            hub.schedule_call_global(0, wake_caller)

    helper = greenlet.greenlet(run, parent=caller)
    try:
        helper.switch()
    finally:
        waiting = False
    if "error" in outcome:
        error = outcome.pop("error")
        # Neither the dict nor this frame may keep it once raised: its traceback
        # holds both, and that cycle would wait for the garbage collector.
        try:
            raise error
        finally:
            error = None
    return outcome.get("value")
