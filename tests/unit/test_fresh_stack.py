"""d09.fresh_stack: a call on a new greenlet, at once, with the caller's results."""

import gc
import weakref

import eventlet
import greenlet
import pytest
from eventlet import hubs

from d09.runtime.fresh_stack import run_on_fresh_stack


def in_green_thread(function):
    return eventlet.spawn(function).wait()


def where_am_i(tag):
    return tag, greenlet.getcurrent()


def test_the_call_runs_on_another_greenlet_that_is_gone_afterwards():
    def caller():
        tag, helper = run_on_fresh_stack(where_am_i, "x")
        return tag, helper, greenlet.getcurrent()

    tag, helper, caller_greenlet = in_green_thread(caller)
    assert tag == "x"
    assert helper is not caller_greenlet
    assert helper.dead


def test_a_call_that_does_not_wait_comes_back_without_a_turn_of_the_hub():
    turns = []

    def caller():
        hubs.get_hub().schedule_call_global(0, turns.append, "hub turned")
        value = run_on_fresh_stack(lambda: 42)
        return value, list(turns)

    assert in_green_thread(caller) == (42, [])


def test_a_call_that_waits_resumes_its_caller_with_the_value():
    def slow(value):
        eventlet.sleep(0.01)
        return value * 2

    assert in_green_thread(lambda: run_on_fresh_stack(slow, 21)) == 42


@pytest.mark.parametrize("waits", [False, True])
def test_an_exception_is_raised_in_the_caller(waits):
    def failing():
        if waits:
            eventlet.sleep(0)
        raise LookupError("refused")

    def caller():
        with pytest.raises(LookupError, match="refused"):
            run_on_fresh_stack(failing)
        return "caught"

    assert in_green_thread(caller) == "caught"


def test_the_caller_waits_so_calls_keep_their_order():
    done = []

    def record(value):
        eventlet.sleep(0.01 if value == 1 else 0)
        done.append(value)

    def caller():
        for value in (1, 2, 3):
            run_on_fresh_stack(record, value)
        return done

    assert in_green_thread(caller) == [1, 2, 3]


def test_other_green_threads_run_while_a_call_waits():
    events = []

    def slow():
        eventlet.sleep(0.02)
        events.append("slow done")

    def other():
        events.append("other ran")

    def caller():
        eventlet.spawn(other)
        run_on_fresh_stack(slow)
        return events

    assert in_green_thread(caller) == ["other ran", "slow done"]


def test_called_from_the_hub_it_runs_in_place():
    seen = []

    def in_hub():
        seen.append(run_on_fresh_stack(where_am_i, "hub")[1] is hubs.get_hub().greenlet)

    hubs.get_hub().schedule_call_global(0, in_hub)
    eventlet.sleep(0.01)
    assert seen == [True]


def test_an_error_raised_through_it_is_freed_at_once_not_by_the_garbage_collector():
    """A reference cycle through its traceback would wait for a collection, and a
    flood of refused requests made thousands a second (collections that paused
    every room for 40-100 ms)."""

    class Failure(Exception):
        pass

    def fail():
        raise Failure

    def caller():
        try:
            run_on_fresh_stack(fail)
        except Failure as error:
            return weakref.ref(error)

    gc.disable()
    try:
        assert in_green_thread(caller)() is None
    finally:
        gc.enable()
