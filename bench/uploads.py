"""Attachments under load: the upload throughput of one 10 MB file, and of 100
clients uploading at once, with the chat's p99 delivery latency measured
alongside (and without any upload, as the baseline).

    .venv/bin/python bench/uploads.py                 # about two minutes
    .venv/bin/python bench/uploads.py --clients 20 --size-mb 1 --quick

One gunicorn eventlet worker (SQLite, files under a temporary MEDIA_ROOT, the
default SIO_MAX_PAYLOAD of 64 KB: a 10 MB file is 160 chunks, each acknowledged
before the next is sent, as the page does), pinned to core 0; the clients
(python-socketio, one thread each) run here, pinned to core 1. The latency
probe is a pair of clients in their own room: one posts a line every 50 ms
carrying its send time, the other times its arrival (same process, same clock).
Prints a JSON report; bench/README.md, "Attachments", has the figures.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import files  # noqa: E402
from tests.support.server import LiveServer  # noqa: E402
from tests.support.sio import connected  # noqa: E402

SERVER_CORE, CLIENT_CORE = "0", "1"


@dataclass
class Person:
    username: str
    cookie: str

    @property
    def headers(self):
        return {"Cookie": self.cookie}


class PinnedServer(LiveServer):
    def command(self):
        return ["taskset", "-c", SERVER_CORE, *super().command()]


def percentiles(values):
    values = sorted(values)
    if not values:
        return {"n": 0}

    def at(p):
        return round(values[min(len(values) - 1, int(p / 100 * len(values)))] * 1000, 1)

    return {
        "n": len(values),
        "p50_ms": at(50),
        "p90_ms": at(90),
        "p99_ms": at(99),
        "max_ms": at(100),
    }


class LatencyProbe:
    """A line every ``every`` seconds from one client to another; their delays."""

    def __init__(self, url, sender, reader, room, every=0.05):
        self.sender = connected(url, sender, room)
        self.reader = connected(url, reader, room)
        self.every = every
        self.delays = []
        self.running = False
        self.reader.sio.on("message", self._arrived)

    def _arrived(self, message):
        text = message.get("text", "")
        if text.startswith("probe "):
            self.delays.append(time.perf_counter() - float(text.split()[1]))

    def run(self, seconds):
        self.delays = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.sender.sio.emit("message", {"text": f"probe {time.perf_counter():.6f}"})
            time.sleep(self.every)
        time.sleep(0.5)  # the last lines' arrival
        return percentiles(self.delays)

    def during(self, work):
        """Probe while ``work()`` runs; (its result, the latency)."""
        self.delays = []
        result = {}
        thread = threading.Thread(target=lambda: result.update(value=work()))
        thread.start()
        while thread.is_alive():
            self.sender.sio.emit("message", {"text": f"probe {time.perf_counter():.6f}"})
            time.sleep(self.every)
        time.sleep(0.5)
        return result["value"], percentiles(self.delays)

    def close(self):
        self.sender.close()
        self.reader.close()


def payload(size):
    """A file that compresses to nothing and is accepted as a zip archive."""
    return b"PK\x03\x04" + os.urandom(size - 4)


def upload_all(url, people, room, data):
    """Each person uploads ``data`` at once (a barrier); wall time and failures."""
    clients = [connected(url, person, room) for person in people]
    start = threading.Barrier(len(clients) + 1)
    answers = [None] * len(clients)

    def run(index):
        start.wait()
        answers[index] = files.upload(
            clients[index], data, name=f"bench-{index}.zip", type="application/zip"
        )

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    for client in clients:
        client.close()
    failed = [a for a in answers if not (a and a.get("ok") and "id" in a)]
    total_mb = len(data) * len(clients) / 1e6
    return {
        "clients": len(clients),
        "file_mb": round(len(data) / 1e6, 2),
        "seconds": round(seconds, 2),
        "mb_per_s": round(total_mb / seconds, 2),
        "failed": len(failed),
        "first_failure": failed[0] if failed else None,
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--size-mb", type=float, default=1.0, help="each of the many clients' file")
    parser.add_argument("--quick", action="store_true", help="a 2 MB single file, 5 s baseline")
    args = parser.parse_args()
    os.sched_setaffinity(0, {int(CLIENT_CORE)})

    work = Path(tempfile.mkdtemp(prefix="d09-bench-uploads-"))
    env = {
        "SECRET_KEY": "bench-uploads-secret-key-" + "z" * 40,
        "DEBUG": "0",
        "DATABASE_URL": f"sqlite:///{work}/db.sqlite3",
        "MEDIA_ROOT": str(work / "media"),
        "LOG_LEVEL": "WARNING",
        "ATTACHMENT_QUOTA_BYTES": "0",
    }
    server = PinnedServer(extra_env=env, log_name="bench-uploads.log")
    server.prepare()
    server.start()
    try:
        names = [f"uploader{i:03d}" for i in range(args.clients)] + ["probe_a", "probe_b"]
        cookies = server.create_sessions(names)
        people = {name: Person(name, cookie) for name, cookie in cookies.items()}
        server.create_room("Bench files", "bench-files")
        server.create_room("Bench chat", "bench-chat")
        probe = LatencyProbe(server.url, people["probe_a"], people["probe_b"], "bench-chat")
        report = {
            "commit": subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
            ).stdout.strip()
        }
        report["chat_alone"] = probe.run(5 if args.quick else 10)
        single = payload((2 if args.quick else 10) * 1024 * 1024)
        report["one_file"], report["chat_during_one_file"] = probe.during(
            lambda: upload_all(server.url, [people["uploader000"]], "bench-files", single)
        )
        many = payload(int(args.size_mb * 1024 * 1024))
        uploaders = [people[name] for name in names[: args.clients]]
        report["many_files"], report["chat_during_many_files"] = probe.during(
            lambda: upload_all(server.url, uploaders, "bench-files", many)
        )
        probe.close()
    finally:
        server.stop()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
