"""Garbage-collector settings for a long-lived chat worker (prototype)."""

import gc
import os


def tune_gc():
    thresholds = os.environ.get("GC_THRESHOLD", "").strip()
    if thresholds:
        gc.set_threshold(*(int(part) for part in thresholds.split(",")))
    if os.environ.get("GC_FREEZE", "0") == "1":
        gc.collect()
        gc.freeze()
