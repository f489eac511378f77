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


def test_refused_clients_are_told_spread_waits():
    waits = {capacity.retry_after() for _ in range(200)}
    assert waits <= set(range(1, 6)) and len(waits) > 1


def test_a_join_slot_is_free_again_once_given_back():
    slots = capacity.JoinSlots(2, wait=0.05, hold_for=60)
    first, second = slots.take(), slots.take()
    assert first and second and slots.in_use() == 2
    assert slots.take() is None  # none free within the wait: refused
    slots.give_back(first)
    slots.give_back(first)  # twice changes nothing
    assert slots.take() is not None
    assert slots.take() is None


def test_a_waiting_session_gets_the_slot_given_back_meanwhile():
    import eventlet

    slots = capacity.JoinSlots(1, wait=5, hold_for=60)
    held = slots.take()
    waiting = []
    eventlet.spawn_after(0.01, lambda: (waiting.append(slots.waiting()), slots.give_back(held)))
    assert slots.take() is not None  # waited, not refused
    assert waiting == [1] and slots.waiting() == 0


def test_a_session_that_never_joins_holds_its_slot_for_a_moment_only():
    slots = capacity.JoinSlots(1, wait=5, hold_for=0.05)
    assert slots.take() is not None  # never given back
    assert slots.take() is not None  # free again after hold_for


def test_waiting_sessions_get_slots_in_arrival_order():
    import eventlet

    slots = capacity.JoinSlots(1, wait=5, hold_for=60)
    held = slots.take()
    served = []

    def session(name):
        token = slots.take()
        served.append(name)
        slots.give_back(token)

    waiters = [eventlet.spawn(session, n) for n in range(50)]
    eventlet.sleep(0)  # every session is in the queue now
    assert slots.waiting() == 50
    slots.give_back(held)
    for waiter in waiters:
        waiter.wait()
    assert served == list(range(50))
    assert slots.waiting() == 0 and slots.in_use() == 0


def test_a_session_killed_while_its_slot_comes_passes_the_slot_on():
    import eventlet

    slots = capacity.JoinSlots(1, wait=5, hold_for=60)
    held = slots.take()
    first = eventlet.spawn(slots.take)
    second = eventlet.spawn(slots.take)
    eventlet.sleep(0)
    slots.give_back(held)  # the slot is handed to the first...
    first.kill()  # ...which goes away before it runs again
    assert second.wait() is not None
    assert slots.in_use() == 1


def test_no_slot_is_lost_to_sessions_that_stop_waiting():
    import eventlet

    slots = capacity.JoinSlots(3, wait=0.02, hold_for=60)
    held = [slots.take() for _ in range(3)]
    quitters = [eventlet.spawn(slots.take) for _ in range(20)]
    eventlet.sleep(0)
    for token in held:
        slots.give_back(token)
    results = [quitter.wait() for quitter in quitters]
    assert sum(result is not None for result in results) == 3  # the first three got them
    assert results[:3] == [r for r in results if r is not None]
    for token in results[:3]:
        slots.give_back(token)
    assert slots.in_use() == 0 and slots.waiting() == 0
    assert all(slots.take() is not None for _ in range(3))
    assert slots.take() is None
