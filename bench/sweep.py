"""What the permission sweep costs the event loop (issue 21, item 2).

Every PERMISSION_RECHECK_SECONDS each worker re-reads whether the users
connected to it are still active (``chat.standing.inactive``, called by
``chat.background.end_revoked``): a deactivation made anywhere must end their
connections within 2 s. The sweep runs on the event loop, so its time is a
pause for every connection of the worker. This times it for USERS connected
users on a SQLite database of its own (best of REPEAT).

    .venv/bin/python bench/sweep.py                  # 10,000 users, a few seconds
    .venv/bin/python bench/sweep.py --users 1000 --label small

It writes its figures as JSON to bench/results/sweep-<label>.json.
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

from room_list import ROOT, setup_django


def make_users(count):
    """``count`` active users in one transaction; their ids."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    model = get_user_model()
    with transaction.atomic():
        model.objects.bulk_create(
            [model(username=f"sweep{n}", password="!") for n in range(count)], batch_size=2000
        )
    return list(model.objects.values_list("pk", flat=True))


def best_ms(function, repeat):
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - started)
    return best * 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--label", default="latest")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="d09-sweep-") as work:
        setup_django(Path(work) / "sweep.sqlite3")
        from chat import standing

        user_ids = make_users(args.users)
        sweep_ms = best_ms(lambda: standing.inactive(user_ids), args.repeat)
    figures = {"users": args.users, "repeat": args.repeat, "sweep_ms": round(sweep_ms, 2)}
    print(json.dumps(figures))
    out = ROOT / "bench" / "results" / f"sweep-{args.label}.json"
    out.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
