"""CPython's cyclic garbage collector, tuned for a long-lived chat worker.

Why: a collection stops the whole process, and under eventlet that means every
connection at once. With Python's default thresholds (700, 10, 10) a worker
holding a 1,000-member room ran a young collection every few milliseconds of
fan-out (each message allocates queue entries, timers and frames for every
recipient) and, every 20 s or so, a full collection that walked every object
of every connection: 120-210 ms during which nobody received anything. Those
pauses were the whole 99th percentile of the fan-out benchmark (bench/README.md,
"Garbage collection"). Measured there: p99 278 ms before, 65-70 ms after.

What ``tune_gc()`` does, once per worker after the app is loaded:

1. Collect once, then ``gc.freeze()`` what is alive: Django, the app, the
   modules (about 50,000 objects that never become garbage). Later collections
   skip them.
2. Raise the young-generation threshold from 700 to 50,000 allocations. Young
   collections run about 70 times less often, so far fewer in-flight objects
   (a packet waiting in a queue, a timer) happen to be alive at a collection
   and get promoted to the old generation; promotions are what eventually
   trigger the full collections. Cost: short-lived garbage in reference
   cycles waits a little longer to be freed (bounded by those 50,000 objects).
3. Log a warning for any collection that pauses the worker longer than
   ``GC_SLOW_MS`` (100 ms by default), so that a pause is visible in the logs.

``GC_THRESHOLD="700,10,10"`` restores Python's defaults (both are Django
settings read from the environment in d09/settings.py).
"""

import gc
import logging
import time

from django.conf import settings

logger = logging.getLogger(__name__)

DEFAULT_THRESHOLDS = (50_000, 20, 100)


def parse_thresholds(value, name="GC_THRESHOLD"):
    """``"50000,20,100"`` as three whole numbers (``gc.set_threshold``); the
    defaults for an empty value; ValueError naming ``name`` for anything else."""
    value = (value or "").strip()
    if not value:
        return DEFAULT_THRESHOLDS
    parts = [part.strip() for part in value.split(",")]
    try:
        numbers = tuple(int(part) for part in parts)
    except ValueError:
        numbers = ()
    if len(numbers) != 3 or min(numbers) < 1:
        raise ValueError(
            f"{name} must be three positive whole numbers like 50000,20,100, got {value!r}"
        )
    return numbers


class SlowCollectionLog:
    """A ``gc.callbacks`` entry that logs collections longer than ``slow_ms``."""

    def __init__(self, slow_ms, clock=time.perf_counter):
        self.slow_ms = slow_ms
        self._clock = clock
        self._started = None

    def __call__(self, phase, info):
        if phase == "start":
            self._started = self._clock()
            return
        if self._started is None:
            return
        paused_ms = (self._clock() - self._started) * 1000
        self._started = None
        if paused_ms >= self.slow_ms:
            # Logging from here is safe under eventlet: nothing that holds the
            # logging lock yields, so no other green thread can be holding it.
            logger.warning(
                "garbage collection (generation %d) paused the worker for %.0f ms; "
                "%d objects collected, %d frozen",
                info["generation"],
                paused_ms,
                info["collected"],
                gc.get_freeze_count(),
            )


def tune_gc():
    """Apply the settings above to this process; returns the thresholds set."""
    thresholds = parse_thresholds(settings.GC_THRESHOLD)
    slow_ms = settings.GC_SLOW_MS
    gc.collect()
    gc.freeze()
    gc.set_threshold(*thresholds)
    if not any(isinstance(callback, SlowCollectionLog) for callback in gc.callbacks):
        gc.callbacks.append(SlowCollectionLog(slow_ms))
    logger.info(
        "garbage collector: %d start-up objects frozen, thresholds %s",
        gc.get_freeze_count(),
        thresholds,
    )
    return thresholds
