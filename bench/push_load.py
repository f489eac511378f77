"""Chat latency while Web Push goes to a slow push service (issue 23).

    .venv/bin/python bench/push_load.py            # 3 rounds of 2 x 30 s, ~4 minutes
    .venv/bin/python bench/push_load.py --seconds 10 --rounds 1   # a quick look

One server as users start it (gunicorn -k eventlet -w 1, SQLite, tests/support/
server.py's LiveServer) and the push service on loopback of the tests
(tests/support/push_service.py, ``serve_slow``, in a process of its own),
answering each push 201 only after ``--push-delay`` seconds.

- phase "alone": 20 members in one room, one of them sending 10 lines a
  second; every delivery's latency (sent -> received by each member, one clock:
  this process) and every ack's.
- phase "pushing": the same, while another room gets a line every 0.6 s that
  names 10 users who are away, each with a device at the slow push service:
  1,000 pushes a minute, each held ``--push-delay`` seconds by the service.

The phases take turns (``--rounds``): the machine's other load falls on both.
Prints the figures as JSON and writes bench/results/push-<label>.json.
"""

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import socketio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.push_service import Subscription, vapid_pair  # noqa: E402
from tests.support.server import LiveServer  # noqa: E402

MEMBERS = 20
AWAY = 10  # users named in each pushing line: 10 pushes per line
PUSH_EVERY = 0.6  # seconds between pushing lines: 1,000 pushes a minute
CHAT_RATE = 10  # lines a second in the measured room


def client(url, cookie, room, on_message=None):
    sio = socketio.Client(reconnection=False)
    if on_message:
        sio.on("message", on_message)
    sio.connect(url, headers={"Cookie": cookie}, auth={"room": room}, transports=["websocket"])
    return sio


def percentiles(values):
    values = sorted(values)
    if len(values) < 2:
        return {"n": len(values)}
    cuts = statistics.quantiles(values, n=100)
    return {
        "n": len(values),
        "p50_ms": round(statistics.median(values), 2),
        "p99_ms": round(cuts[98], 2),
        "max_ms": round(values[-1], 2),
    }


class Room:
    """The measured room: members that time each delivery, a sender that
    times each ack."""

    def __init__(self, url, cookies):
        self.deliveries = []
        self.lock = threading.Lock()
        self.members = [
            client(url, cookies[f"m{i}"], "general", self._received) for i in range(MEMBERS)
        ]
        self.sender = client(url, cookies["sender"], "general")

    def _received(self, message):
        sent = message["text"].split(" ", 2)
        if sent[0] == "t":
            with self.lock:
                self.deliveries.append((time.monotonic() - float(sent[1])) * 1000)

    def run(self, seconds):
        with self.lock:
            self.deliveries.clear()
        acks = []
        end = time.monotonic() + seconds
        next_at = time.monotonic()
        while time.monotonic() < end:
            start = time.monotonic()
            answer = self.sender.call("message", {"text": f"t {start} measured"}, timeout=30)
            acks.append((time.monotonic() - start) * 1000)
            assert answer.get("ok"), answer
            next_at += 1 / CHAT_RATE
            time.sleep(max(0, next_at - time.monotonic()))
        time.sleep(1)  # the last deliveries
        with self.lock:
            deliveries = list(self.deliveries)
        return {"deliveries": percentiles(deliveries), "acks": percentiles(acks)}

    def close(self):
        for sio in [*self.members, self.sender]:
            sio.disconnect()


def push_lines(url, cookie, seconds, stop):
    """Lines naming the away users, every PUSH_EVERY seconds, in another room."""
    sio = client(url, cookie, "random")
    names = " ".join(f"@a{i}" for i in range(AWAY))
    end = time.monotonic() + seconds
    next_at = time.monotonic()
    while time.monotonic() < end and not stop.is_set():
        sio.call("message", {"text": f"{names} the deploy needs you"}, timeout=30)
        next_at += PUSH_EVERY
        time.sleep(max(0, next_at - time.monotonic()))
    sio.disconnect()


def slow_push_service(delay, folder):
    """The slow push service in a process of its own (its work is not this
    process's: the measuring clients keep their clock to themselves)."""
    ready = folder / "push-service"
    ready.unlink(missing_ok=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.push_service", str(delay), str(ready)], cwd=ROOT
    )
    deadline = time.monotonic() + 20
    while not (ready.exists() and ready.read_text()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return process, ready.read_text(), Path(f"{ready}.count")


def pushes_so_far(counter):
    return int(counter.read_text() or 0) if counter.exists() else 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30, help="per phase and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--push-delay", type=float, default=2.0)
    parser.add_argument("--concurrency", default="40")
    parser.add_argument("--label", default=time.strftime("%Y-%m-%d-%H%M"))
    args = parser.parse_args()

    work = ROOT / "bench" / ".work"
    work.mkdir(exist_ok=True)
    (work / "push.sqlite3").unlink(missing_ok=True)
    public, private = vapid_pair()
    service, service_url, counter = slow_push_service(args.push_delay, work)
    server = LiveServer(
        extra_env={
            "SECRET_KEY": "bench-only-secret-key-" + "x" * 40,
            "DATABASE_URL": f"sqlite:///{work / 'push.sqlite3'}",
            "VAPID_PUBLIC_KEY": public,
            "VAPID_PRIVATE_KEY": private,
            "VAPID_SUBJECT": "mailto:bench@example.com",
            "PUSH_INSECURE_ENDPOINTS": "1",
            "PUSH_CONCURRENCY": args.concurrency,
            "PUSH_TIMEOUT": "30",
        },
        log_name="bench-push.log",
    )
    server.prepare()
    server.start()
    rounds = []
    try:
        names = ["sender", "pusher", *(f"m{i}" for i in range(MEMBERS))]
        names += [f"a{i}" for i in range(AWAY)]
        cookies = server.create_sessions(names)
        for i in range(AWAY):  # each away user: one device at the slow push service
            device = client(server.url, cookies[f"a{i}"], "cats")
            subscription = Subscription(f"{service_url}/push/a{i}", "201").as_json()
            assert device.call("push_subscribe", subscription, timeout=10)["ok"]
            device.disconnect()
        room = Room(server.url, cookies)
        # Alone and pushing, in turns: the machine's other load falls on both.
        for _ in range(args.rounds):
            alone = room.run(args.seconds)
            stop = threading.Event()
            pusher = threading.Thread(
                target=push_lines, args=(server.url, cookies["pusher"], args.seconds + 5, stop)
            )
            pusher.start()
            time.sleep(3)  # the pushes under way, the senders busy
            before, started = pushes_so_far(counter), time.monotonic()
            pushing = room.run(args.seconds)
            rate = (pushes_so_far(counter) - before) / (time.monotonic() - started) * 60
            stop.set()
            pusher.join()
            rounds.append(
                {"alone": alone, "pushing": {**pushing, "pushes_per_minute": round(rate)}}
            )
        room.close()
    finally:
        server.stop()
        service.terminate()
    figures = {
        "command": " ".join(["bench/push_load.py", *sys.argv[1:]]),
        "push_delay_s": args.push_delay,
        "push_concurrency": int(args.concurrency),
        "rounds": rounds,
    }
    print(json.dumps(figures, indent=2))
    out = ROOT / "bench" / "results" / f"push-{args.label}.json"
    out.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
