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
