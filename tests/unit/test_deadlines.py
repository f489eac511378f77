"""d09.runtime.deadlines: one queue of equal timeouts, checked at its head."""

import pytest

from d09.runtime.deadlines import Deadlines


def test_nothing_is_due_before_its_time(clock):
    deadlines = Deadlines(10, clock=clock)
    deadlines.add("a")
    clock.now += 9.9
    assert deadlines.due() == []
    assert len(deadlines) == 1


def test_keys_come_out_once_in_the_order_they_were_added(clock):
    deadlines = Deadlines(10, clock=clock)
    deadlines.add("a")
    clock.now += 1
    deadlines.add("b")
    clock.now += 1
    deadlines.add("c")
    clock.now += 9.5  # a and b are due, c is not
    assert deadlines.due() == ["a", "b"]
    assert deadlines.due() == []
    clock.now += 1
    assert deadlines.due() == ["c"]
    assert len(deadlines) == 0


def test_the_sweeper_sleeps_until_the_oldest_deadline(clock):
    deadlines = Deadlines(10, clock=clock)
    assert deadlines.seconds_to_next() == 10  # empty: anything added later is due later
    deadlines.add("a")
    clock.now += 4
    deadlines.add("b")
    assert deadlines.seconds_to_next() == pytest.approx(6)
    clock.now += 7
    assert deadlines.seconds_to_next() == 0


def test_a_timeout_must_be_positive():
    with pytest.raises(ValueError):
        Deadlines(0)
