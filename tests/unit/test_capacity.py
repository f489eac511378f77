"""d09.runtime.capacity: a worker's pool fits under its descriptor limit, and
chat sessions stop a little below the pool so that pages are still served."""

from d09.runtime import capacity


def test_the_pool_fits_under_the_descriptor_limit():
    assert capacity.fit(10_000, 20_000) == (10_000, 9_500)
    assert capacity.fit(10_000, 1_024) == (768, 768 - 38)
    assert capacity.fit(10_000, 100)[0] == 1  # absurdly low limits still give a worker


def test_small_pools_keep_room_for_pages():
    assert capacity.fit(40, 20_000) == (40, 32)


def test_no_cap_outside_gunicorn():
    capacity._session_cap = None
    assert not capacity.at_capacity(10**6)


class LoopForTest:
    """A LoopWatch's sleep that moves a fake clock, plus work that holds the loop."""

    def __init__(self, clock):
        self.clock = clock
        self.busy_for = 0.0

    def sleep(self, seconds):
        self.clock.advance(seconds + self.busy_for)
        self.busy_for = 0.0


def test_a_loop_that_keeps_up_takes_new_sessions(clock):
    loop = LoopForTest(clock)
    watch = capacity.LoopWatch(0.5, loop.sleep, clock=clock)
    for _ in range(10):
        watch.step()
        loop.busy_for = 0.01
    assert not watch.behind()


def test_a_late_wake_up_refuses_until_the_loop_catches_up(clock):
    loop = LoopForTest(clock)
    watch = capacity.LoopWatch(0.5, loop.sleep, clock=clock)
    loop.busy_for = 2.0  # a stretch of work held the loop for 2 s
    watch.step()
    assert watch.behind()
    watch.step()  # the next tick comes on time
    assert not watch.behind()


def test_work_running_now_is_seen_before_the_watch_wakes(clock):
    loop = LoopForTest(clock)
    watch = capacity.LoopWatch(0.5, loop.sleep, clock=clock)
    watch.step()
    clock.advance(0.3)  # within the stretch: the watch is not overdue yet
    assert not watch.behind()
    clock.advance(0.3)  # 0.6 s since its last wake-up, 0.55 s overdue
    assert watch.behind()


def test_a_zero_limit_never_refuses(clock):
    watch = capacity.LoopWatch(0, LoopForTest(clock).sleep, clock=clock)
    clock.advance(60)
    assert not watch.behind()


def test_refused_clients_are_told_spread_waits():
    waits = {capacity.retry_after() for _ in range(200)}
    assert waits <= set(range(1, 6)) and len(waits) > 1
