"""chat.limits: token buckets for flood control."""

from chat.limits import RateLimiter, wait_text


def test_burst_then_refill(clock):
    limiter = RateLimiter(burst=3, rate=1.0, clock=clock)
    assert [limiter.take("alice") for _ in range(3)] == [0, 0, 0]
    assert limiter.take("alice") == 1.0
    clock.now += 0.5
    assert limiter.take("alice") == 0.5
    clock.now += 0.5
    assert limiter.take("alice") == 0


def test_keys_are_independent(clock):
    limiter = RateLimiter(burst=1, rate=0.1, clock=clock)
    assert limiter.take("alice") == 0
    assert limiter.take("alice") > 0
    assert limiter.take("bob") == 0


def test_normal_chat_speed_is_never_limited(clock):
    limiter = RateLimiter(burst=10, rate=2.0, clock=clock)
    # A fast typist: a line every 0.6 s for ten minutes.
    for _ in range(1000):
        assert limiter.take("alice") == 0
        clock.now += 0.6


def test_zero_disables_the_limit(clock):
    limiter = RateLimiter(burst=0, rate=0, clock=clock)
    assert all(limiter.take("alice") == 0 for _ in range(10_000))


def test_memory_stays_bounded(clock):
    limiter = RateLimiter(burst=2, rate=1.0, clock=clock)
    for i in range(20_000):
        limiter.take(f"address-{i}")
        clock.now += 0.01
    assert len(limiter._buckets) <= 10_001


def test_wait_text():
    assert wait_text(0.2) == "1 second"
    assert wait_text(1.0) == "1 second"
    assert wait_text(2.1) == "3 seconds"
