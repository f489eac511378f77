"""The worker's garbage-collector settings (d09/runtime/gc_tuning.py): frozen start-up
objects, rare collections, slow pauses logged, and a clear error for a bad value."""

import logging

import pytest

from d09.runtime.gc_tuning import DEFAULT_THRESHOLDS, SlowCollectionLog, parse_thresholds
from tests.support.process import run


def test_default_thresholds_make_collections_rare():
    assert parse_thresholds("") == DEFAULT_THRESHOLDS
    assert DEFAULT_THRESHOLDS[0] >= 10_000  # Python's default is 700


def test_thresholds_are_three_numbers():
    assert parse_thresholds(" 700, 10,10 ") == (700, 10, 10)


@pytest.mark.parametrize("value", ["lots", "700,10", "700,10,10,10", "0,10,10", "-1,2,3"])
def test_a_bad_threshold_is_a_clear_error(value):
    with pytest.raises(ValueError, match="GC_THRESHOLD must be three positive whole numbers"):
        parse_thresholds(value)


def collection(log, clock, seconds, generation=2):
    log("start", {"generation": generation, "collected": 0, "uncollectable": 0})
    clock.now += seconds
    log("stop", {"generation": generation, "collected": 42, "uncollectable": 0})


def test_a_slow_collection_is_logged(caplog, clock):
    log = SlowCollectionLog(slow_ms=100, clock=clock)
    with caplog.at_level(logging.WARNING, logger="d09.runtime.gc_tuning"):
        collection(log, clock, 0.250)
    assert "garbage collection (generation 2) paused the worker for 250 ms" in caplog.text
    assert "42 objects collected" in caplog.text


def test_a_quick_collection_is_not_logged(caplog, clock):
    log = SlowCollectionLog(slow_ms=100, clock=clock)
    with caplog.at_level(logging.WARNING, logger="d09.runtime.gc_tuning"):
        collection(log, clock, 0.020, generation=0)
    assert caplog.text == ""


def test_the_served_app_tunes_the_collector():
    code = (
        "import gc, sio_server; "
        "print(gc.get_threshold(), gc.get_freeze_count() > 10000, "
        "sum(type(c).__name__ == 'SlowCollectionLog' for c in gc.callbacks))"
    )
    result = run(code, {"DEBUG": "1", "GC_THRESHOLD": "40000,5,50"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["(40000,", "5,", "50)", "True", "1"]


def test_the_server_refuses_a_bad_threshold_at_start():
    result = run("import sio_server", {"DEBUG": "1", "GC_THRESHOLD": "fast"})
    assert result.returncode != 0
    assert "GC_THRESHOLD must be three positive whole numbers" in result.stderr
