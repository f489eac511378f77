"""Summarise a py-spy speedscope profile: where the worker's time goes.

    bench/.venv-channels/bin/python bench/profile_summary.py bench/results/profiles/X.json

Prints the top functions by self time and by inclusive time, and the share of
samples spent under our own code (chat/, d09/, sio_server.py), Django's ORM,
sqlite3, python-socketio/engineio and eventlet.
"""

import json
import sys
from collections import Counter

GROUPS = {
    "our code (chat/, d09/)": ("/chat/", "/d09/", "sio_server.py"),
    "django.db": ("django/db/",),
    "django (other)": ("django/",),
    "socketio": ("socketio/",),
    "engineio": ("engineio/",),
    "eventlet websocket": ("eventlet/websocket.py",),
    "eventlet hub/greenio": ("eventlet/hubs", "eventlet/greenio", "eventlet/queue"),
}


def main(path, top=25):
    data = json.load(open(path))  # noqa: SIM115
    frames = data["shared"]["frames"]
    label = [
        f"{f['name']} ({f.get('file', '?').split('site-packages/')[-1]}:{f.get('line')})"
        for f in frames
    ]
    self_time, incl, groups = Counter(), Counter(), Counter()
    total = 0.0
    for profile in data["profiles"]:
        for stack, weight in zip(profile["samples"], profile["weights"], strict=True):
            if not stack:
                continue
            total += weight
            self_time[stack[-1]] += weight
            for idx in set(stack):
                incl[idx] += weight
            files = {frames[i].get("file", "") for i in stack}
            for group, needles in GROUPS.items():
                if any(n in f for f in files for n in needles):
                    groups[group] += weight
    print(f"{path}: total weight {total:.1f}")
    print("\nshare of samples with a frame in:")
    for group, weight in groups.most_common():
        print(f"  {100 * weight / total:5.1f}%  {group}")
    print("\ntop self time:")
    for idx, weight in self_time.most_common(top):
        print(f"  {100 * weight / total:5.1f}%  {label[idx]}")
    print("\ntop inclusive time:")
    for idx, weight in incl.most_common(top):
        print(f"  {100 * weight / total:5.1f}%  {label[idx]}")


if __name__ == "__main__":
    main(sys.argv[1])
