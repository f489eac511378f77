"""d09/hashers.py: Django's hashers, computing on an OS thread under green threads."""

import os
import subprocess
import sys
import textwrap
import threading

import pytest
from django.contrib.auth import hashers as django_hashers
from django.contrib.auth.hashers import check_password, identify_hasher, make_password

from d09 import hashers
from tests.support.server import ROOT

PROJECT_HASHERS = [
    "d09.hashers.PBKDF2PasswordHasher",
    "d09.hashers.PBKDF2SHA1PasswordHasher",
    "d09.hashers.ScryptPasswordHasher",
]


@pytest.fixture
def project_hashers(settings):
    # conftest.py gives in-process tests a cheap hasher; these test the real ones.
    settings.PASSWORD_HASHERS = PROJECT_HASHERS


def test_the_project_settings_use_these_hashers():
    from d09 import settings as project_settings

    assert project_settings.PASSWORD_HASHERS[0] == "d09.hashers.PBKDF2PasswordHasher"


@pytest.mark.parametrize(
    ("ours", "django"),
    [
        (hashers.PBKDF2PasswordHasher, django_hashers.PBKDF2PasswordHasher),
        (hashers.PBKDF2SHA1PasswordHasher, django_hashers.PBKDF2SHA1PasswordHasher),
        (hashers.ScryptPasswordHasher, django_hashers.ScryptPasswordHasher),
    ],
)
def test_hashes_are_django_s_own_both_ways(ours, django):
    assert ours.algorithm == django.algorithm
    ours_hash = ours().encode("s3cret", "saltsaltsalt")
    assert ours_hash == django().encode("s3cret", "saltsaltsalt")
    assert django().verify("s3cret", ours_hash)
    assert ours().verify("s3cret", ours_hash)
    assert not ours().verify("wrong", ours_hash)


def test_stored_django_hashes_keep_working(project_hashers):
    stored = django_hashers.PBKDF2PasswordHasher().encode("s3cret", "saltsaltsalt")
    assert isinstance(identify_hasher(stored), hashers.PBKDF2PasswordHasher)
    assert check_password("s3cret", stored)
    assert isinstance(identify_hasher(make_password("x")), hashers.PBKDF2PasswordHasher)


def test_without_green_threads_the_hash_runs_in_the_caller():
    assert hashers.off_loop(threading.get_ident) == threading.get_ident()


# Run in a fresh interpreter whose standard library is patched as gunicorn's worker
# patches it: while one green thread hashes, another keeps running, and the hash
# runs on another OS thread.
GREEN_PROBE = """
import sys, threading
MODE = sys.argv[1]
if MODE == "eventlet":
    import eventlet
    eventlet.monkey_patch()
    spawn, yield_ = eventlet.spawn, lambda: eventlet.sleep(0)
else:
    from gevent import monkey
    monkey.patch_all()
    import gevent
    spawn, yield_ = gevent.spawn, lambda: gevent.sleep(0)

import django
from django.conf import settings
settings.configure(PASSWORD_HASHERS=["d09.hashers.PBKDF2PasswordHasher"])
django.setup()
from django.contrib.auth.hashers import make_password, check_password
from d09.hashers import off_loop

ticks = []
done = []

def other_client():
    while not done:
        ticks.append(1)
        yield_()

spawn(other_client)
yield_()
before = len(ticks)
encoded = make_password("a password")
assert check_password("a password", encoded)
during = len(ticks) - before
done.append(1)
main_thread = threading.get_native_id()
print(during, off_loop(threading.get_native_id) != main_thread)
"""


@pytest.mark.parametrize("mode", ["eventlet", "gevent"])
def test_under_green_threads_the_hash_leaves_the_loop_free(mode):
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(GREEN_PROBE), mode],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    ticks_during_two_hashes, other_thread = result.stdout.split()
    # Two PBKDF2 hashes (about 0.6 s): the other green thread ran all along. On the
    # loop, it would not have run once between them.
    assert int(ticks_during_two_hashes) > 100
    assert other_thread == "True"


def test_the_hashing_thread_yields_the_cpu_to_the_loop():
    """The hash runs at nice 19 on its own thread; the thread that asked keeps its priority."""
    seen = {}

    def hash_here():
        seen["hashing"] = os.getpriority(os.PRIO_PROCESS, 0)
        return "hashed"

    def pool_thread():
        seen["result"] = hashers.at_low_priority(hash_here)

    before = os.getpriority(os.PRIO_PROCESS, 0)
    thread = threading.Thread(target=pool_thread)
    thread.start()
    thread.join(timeout=10)
    assert seen == {"hashing": hashers.HASHING_NICENESS, "result": "hashed"}
    assert os.getpriority(os.PRIO_PROCESS, 0) == before


def test_hashes_over_the_limit_are_refused_and_the_place_comes_back(settings):
    import eventlet
    from eventlet.event import Event

    settings.HASHES_IN_FLIGHT = 2
    release = Event()

    def run_on_pool(function, *args):  # a pool thread busy until released
        release.wait()
        return function(*args)

    busy = [eventlet.spawn(hashers.bounded, run_on_pool, str.upper, "x") for _ in range(2)]
    eventlet.sleep(0)  # both are under way now
    with pytest.raises(hashers.HashingBusy):
        hashers.bounded(run_on_pool, str.upper, "refused")
    release.send()
    assert [thread.wait() for thread in busy] == ["X", "X"]
    assert hashers.bounded(lambda function, *args: function(*args), str.upper, "y") == "Y"


def test_a_failing_hash_gives_its_place_back(settings):
    settings.HASHES_IN_FLIGHT = 1

    def broken(function, *args):
        raise RuntimeError("the pool failed")

    for _ in range(2):
        with pytest.raises(RuntimeError):
            hashers.bounded(broken, str.upper, "x")
    assert hashers.bounded(lambda function, *args: function(*args), str.upper, "z") == "Z"


def test_no_limit_when_it_is_zero(settings):
    settings.HASHES_IN_FLIGHT = 0
    hashers._hashes_in_flight = 10**6
    try:
        assert hashers.bounded(lambda function, *args: function(*args), str.upper, "a") == "A"
    finally:
        hashers._hashes_in_flight = 0
