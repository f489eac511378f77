"""chat.limits: token buckets for flood control."""

import pytest

from chat.limits import RateLimiter, answer_tokens, wait_text


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


def test_a_heavy_answer_is_charged_its_weight_after_the_fact(clock):
    limiter = RateLimiter(burst=10, rate=50, clock=clock)
    assert limiter.take("worker") == 0
    limiter.charge("worker", 10)  # an answer of 11 tokens: the bucket owes one
    assert limiter.exhausted("worker")
    assert limiter.take("worker") == pytest.approx(2 / 50)  # back to one token
    clock.advance(2.5 / 50)  # (a little more: float clocks)
    assert not limiter.exhausted("worker") and limiter.take("worker") == 0


def test_charging_nothing_or_a_disabled_limit_changes_nothing(clock):
    limiter = RateLimiter(burst=2, rate=1, clock=clock)
    limiter.charge("worker", 0)
    assert limiter.take("worker") == 0 and limiter.take("worker") == 0
    off = RateLimiter(burst=0, rate=0, clock=clock)
    off.charge("worker", 100)
    assert not off.exhausted("worker") and off.take("worker") == 0


def test_an_answer_weighs_a_token_per_unit_of_bytes(settings):
    settings.HISTORY_WORKER_TOKEN_BYTES = 20_000
    assert answer_tokens(0, 0) == 1
    assert answer_tokens(100 * 100, 50) == 1  # a page of ordinary lines
    # 100 lines of 2,000 characters (the bench's hostile page, 210 KB of JSON)
    assert answer_tokens(100 * 2000, 100) == 11
