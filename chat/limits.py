"""Flood control: token buckets keyed by user, address or connection.

A bucket holds up to ``burst`` tokens and refills at ``rate`` tokens per second;
each action takes one. Normal chat (a few lines in a row, then a pause) never
runs dry; a script sending as fast as it can does within a second or two.
Buckets live in the process: with several workers each enforces its own share.
"""

import math
import time
from dataclasses import dataclass, field

from django.conf import settings


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class RateLimiter:
    burst: int
    rate: float  # tokens per second
    clock: callable = time.monotonic
    _buckets: dict = field(default_factory=dict)

    @property
    def enabled(self):
        return self.burst > 0 and self.rate > 0

    def take(self, key):
        """Spend one token for ``key``; returns 0 when allowed, else seconds to wait."""
        if not self.enabled:
            return 0
        now = self.clock()
        bucket = self._refilled(key, now)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            self._forget_full_buckets(now)
            return 0
        return (1 - bucket.tokens) / self.rate

    def charge(self, key, tokens):
        """Spend ``tokens`` more for ``key`` after the fact (an answer that
        weighed more than the one token its request took). The bucket may go
        below zero: ``exhausted`` holds, and ``take`` refuses, until it has
        refilled past one."""
        if not self.enabled or tokens <= 0:
            return
        self._refilled(key, self.clock()).tokens -= tokens

    def _refilled(self, key, now):
        """``key``'s bucket (a full one if it had none), refilled up to ``now``."""
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(tokens=self.burst, updated=now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        return bucket

    def exhausted(self, key):
        """True while ``key`` has no token left (nothing is spent)."""
        bucket = self._buckets.get(key)
        if bucket is None or not self.enabled:
            return False
        return bucket.tokens + (self.clock() - bucket.updated) * self.rate < 1

    def forget(self, key):
        """Drop ``key``'s bucket (its connection is gone)."""
        self._buckets.pop(key, None)

    def _forget_full_buckets(self, now):
        # Keep memory bounded: a bucket that has refilled holds no information.
        if len(self._buckets) < 10_000:
            return
        for key, bucket in list(self._buckets.items()):
            if bucket.tokens + (now - bucket.updated) * self.rate >= self.burst:
                del self._buckets[key]


def wait_text(seconds):
    """'1 second' / '3 seconds', rounded up, for messages shown to people."""
    whole = max(1, math.ceil(seconds))
    return f"{whole} second{'s' if whole != 1 else ''}"


def message_limiter():
    """Per user: MESSAGE_RATE_BURST lines at once, then MESSAGE_RATE_PER_MINUTE."""
    return RateLimiter(
        burst=settings.MESSAGE_RATE_BURST, rate=settings.MESSAGE_RATE_PER_MINUTE / 60
    )


def connection_limiter():
    """Per user: CONNECT_RATE_BURST chat connections at once, then the rate."""
    return RateLimiter(
        burst=settings.CONNECT_RATE_BURST, rate=settings.CONNECT_RATE_PER_MINUTE / 60
    )


def typing_limiter():
    """Per user: typing news (a page sends one every 3 s at most while typing,
    and one when it stops), TYPING_RATE_BURST at once, then one a second."""
    return RateLimiter(burst=settings.TYPING_RATE_BURST, rate=1)


def history_limiter():
    """Per user, over all their connections: requests whose answers cost the
    server (a page of scroll-back, the user list), HISTORY_RATE_BURST at once,
    then HISTORY_RATE_PER_MINUTE. A page asks a few when its reader scrolls up."""
    return RateLimiter(
        burst=settings.HISTORY_RATE_BURST, rate=settings.HISTORY_RATE_PER_MINUTE / 60
    )


def history_worker_limiter():
    """The same requests of every user of this worker together (one key):
    HISTORY_WORKER_BURST at once, then HISTORY_WORKER_PER_SECOND, so that many
    users at their own budget cannot stall the event loop for everyone. A token
    is an answer of up to HISTORY_WORKER_TOKEN_BYTES; a heavier one is charged
    its weight (``answer_tokens``) once it is known."""
    return RateLimiter(burst=settings.HISTORY_WORKER_BURST, rate=settings.HISTORY_WORKER_PER_SECOND)


def answer_tokens(text_length, items):
    """What an answer of ``items`` entries holding ``text_length`` characters costs
    the worker's budget: one token per HISTORY_WORKER_TOKEN_BYTES (each entry
    counted ANSWER_ITEM_BYTES more for its other fields), at least one. The
    work of an answer (rows read, objects made, JSON written and sent) grows
    with its size: a page of 100 lines of 2,000 characters costs about as much
    as ten of ordinary lines."""
    weight = text_length + items * ANSWER_ITEM_BYTES
    return max(1, math.ceil(weight / settings.HISTORY_WORKER_TOKEN_BYTES))


ANSWER_ITEM_BYTES = 200  # id, author, times, room... of a message on the wire


def search_limiter():
    """Per user: SEARCH_RATE_BURST searches at once, then SEARCH_RATE_PER_MINUTE."""
    return RateLimiter(burst=settings.SEARCH_RATE_BURST, rate=settings.SEARCH_RATE_PER_MINUTE / 60)


def frame_limiter():
    """Per connection: every frame it sends, FRAME_RATE_BURST at once, then
    FRAME_RATE_PER_SECOND (far above what a page sends)."""
    return RateLimiter(burst=settings.FRAME_RATE_BURST, rate=settings.FRAME_RATE_PER_SECOND)


def address_limiter():
    """Per client address, for what no user answers for: Engine.IO sessions
    that end without a logged-in connect (ADDRESS_RATE_BURST of them at once,
    then ADDRESS_RATE_PER_MINUTE)."""
    return RateLimiter(
        burst=settings.ADDRESS_RATE_BURST, rate=settings.ADDRESS_RATE_PER_MINUTE / 60
    )
