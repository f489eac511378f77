"""Login throttling: after too many failures for one username or one address,
further attempts are refused for a while (never for ever).

Counts live in Django's cache (per process with the default local-memory
cache; configure a shared cache to count across workers).
"""

from django.core.cache import cache

from d09.env import env_int

WINDOW_SECONDS = env_int("LOGIN_FAILURE_WINDOW", 15 * 60)
MAX_FAILURES_PER_USERNAME = env_int("LOGIN_FAILURES_PER_USERNAME", 5)
MAX_FAILURES_PER_ADDRESS = env_int("LOGIN_FAILURES_PER_ADDRESS", 20)


def _keys(username, address):
    return (
        (f"login-failures:user:{username.strip().casefold()}", MAX_FAILURES_PER_USERNAME),
        (f"login-failures:addr:{address}", MAX_FAILURES_PER_ADDRESS),
    )


def is_throttled(username, address):
    """True when this username or this address failed too often recently."""
    return any(limit > 0 and cache.get(key, 0) >= limit for key, limit in _keys(username, address))


def record_failure(username, address):
    for key, _limit in _keys(username, address):
        # add() starts the window; incr() keeps its original expiry.
        if not cache.add(key, 1, WINDOW_SECONDS):
            try:
                cache.incr(key)
            except ValueError:  # expired in between
                cache.add(key, 1, WINDOW_SECONDS)


def record_success(username):
    cache.delete(_keys(username, "")[0][0])


def retry_text():
    minutes = max(1, WINDOW_SECONDS // 60)
    return f"Too many failed logins: try again in {minutes} minute{'s' if minutes != 1 else ''}."
