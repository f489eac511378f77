"""Run the d09 benchmark: every scenario against every peer, in one run.

    make bench                                  # everything (README: about 12 minutes)
    .venv/bin/python bench/run.py --peers ours --scenarios fanout --quick

Each server is pinned to core 0 and the Node.js load generator (bench/loadgen.js)
to core 1 with taskset, and every server gets a fresh process per scenario. The
two-worker peer (ours-2w-redis: gunicorn -w 2 with REDIS_URL and its own
redis-server) is pinned to cores 0,1 and so shares core 1 with the generator. The
results go to bench/results/<label>.json and a table to <label>.md (label
"latest" unless --label); a full run labelled "latest" also updates README.md.
"""

import argparse
import contextlib
import hashlib
import json
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from search import LOADED_QUERIES as LOADED_SEARCHES

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WORK = BENCH / ".work"
RESULTS = BENCH / "results"
VENV_BIN = ROOT / ".venv" / "bin"
# The checkout whose server the "ours" peers run (--server-root: e.g. a worktree of
# an older commit, to measure before/after with the same generator and scenarios).
# Its own .venv when it has one; its own bench database (WORK) when it is not ROOT.
SERVER_ROOT = ROOT
SERVER_VENV_BIN = VENV_BIN
CHANNELS_BIN = BENCH / ".venv-channels" / "bin"
SERVER_CORE, GENERATOR_CORE = "0", "1"
# Our server with two gunicorn workers sharing one chat through Redis. Only two
# cores exist: its master (and so both workers) may use both, and so shares core 1
# with the generator and with redis-server: its figures are a lower bound.
TWO_WORKERS = "ours-2w-redis"
TWO_WORKER_CORES = "0,1"


def room_under_load(label, alone_s=10, loaded_s=20, members=100, **load):
    """One room at 10 msg/s, alone for ``alone_s`` seconds, then for ``loaded_s``
    seconds under ``load`` (a phase's logins/s or flood) from elsewhere."""
    return dict(
        rooms=1,
        members=members,
        clients_per_address=1,
        phases=[
            dict(rate=10, seconds=alone_s, label="alone"),
            dict(rate=10, seconds=loaded_s, label=label, **load),
        ],
    )


# A worker whose RSS passes this is killed by the bench (watch_rss scenarios):
# the machine is shared, and the unbounded queue grows by gigabytes.
RSS_CAP_MB = 3000
TWO_WORKER_SCENARIOS = {"rooms", "saturation", "saturation-rooms"}
OURS = ("ours", "ours-compress", TWO_WORKERS)  # gunicorn -k eventlet sio_server:app
SECRET_KEY = "bench-only-secret-key-not-for-production-0123456789abcdefghijklmnop"
WORKER_CONNECTIONS = "11000"
# Users in the bench database: 100 rooms x 100 plus one room of 2,000 (restart-storm).
BENCH_USERS = 12000
BENCH_ROOM_COUNT = 101  # bench-0 .. bench-99 (100 members each at most), bench-100 (the big one)
# Users with a real, usable password (hashed as a signup hashes it) for the
# logins scenario: every login really runs the password hasher.
# 100 of them: at 10 logins/s each logs in once in 10 s, under the throttle's 5
# attempts in flight per username even when logins queue for seconds.
LOGIN_USERS = [f"login{i:03d}" for i in range(100)]
LOGIN_PASSWORD = "bench-login-password-2024"
# The bench turns the server's limits off (Server.env); a scenario may ask for the
# deployment's defaults instead: None drops the variable, so the server's default applies.
DEFAULT_LIMITS = {
    "CONNECT_RATE_BURST": None,
    "ADDRESS_RATE_BURST": None,
    "PENDING_SESSIONS_PER_ADDRESS": None,
    "MESSAGE_RATE_BURST": None,
    "FRAME_RATE_BURST": None,
}

# Scenario definitions. "rooms" x "members" connections; phases are per-sender
# rates (one sender per room, the room's first member) and durations.
# Sender rates (msg/s per sender), 5 s each, until p99 > 250 ms. One worker reaches
# 49-59k deliveries/s at 50-60 msg/s: the higher steps are for the two-worker peer.
SATURATION_STEPS = [
    dict(rate=r, seconds=5) for r in (5, 10, 15, 20, 25, 30, 40, 50, 60, 80, 100, 120, 150, 200)
]
SCENARIOS = {
    "idle": dict(rooms=100, members=100, mode="idle", deflate=False),
    "idle-deflate": dict(rooms=100, members=100, mode="idle", deflate=True),
    "idle-1room": dict(rooms=1, members=1000, mode="idle", deflate=False),
    "fanout": dict(rooms=1, members=1000, phases=[dict(rate=1, seconds=20)]),
    "fanout-deflate": dict(rooms=1, members=1000, phases=[dict(rate=1, seconds=20)], deflate=True),
    "rooms": dict(rooms=20, members=50, phases=[dict(rate=2, seconds=15)]),
    "saturation": dict(rooms=1, members=1000, phases=SATURATION_STEPS, stop_p99_ms=250),
    # The same deliveries/s spread over 20 rooms x 50 members (one sender each):
    # a room's messages pass its lock one at a time, so one hot room measures
    # that lock as much as the fan-out (finding 11); many rooms measure the fan-out.
    "saturation-rooms": dict(rooms=20, members=50, phases=SATURATION_STEPS, stop_p99_ms=250),
    # Issue 11, item 4: one 100-member room at 10 msg/s, alone, then while 10 real
    # logins a second run against the same worker (each hashes a password).
    "logins": room_under_load("10 logins/s", logins=10),
    # The same with eventlet's thread pool at 1 thread (EVENTLET_THREADPOOL_SIZE;
    # default 20): at most one hash beside the event loop on its core.
    "logins-tpool1": dict(
        room_under_load("10 logins/s", logins=10), env={"EVENTLET_THREADPOOL_SIZE": "1"}
    ),
    # The same with the server allowed on both cores (the generator stays on core
    # 1 and shares it): hashing off the loop can only help where a core is free.
    "logins-2cores": dict(room_under_load("10 logins/s", logins=10), server_cores="0,1"),
    # 10 logins/s need ~3.5 cores of PBKDF2 (0.35 s each here): more than this
    # machine has, whatever runs the hash. At 3 logins/s (about one core of
    # hashing) with the server allowed on both cores, hashing off the loop has a
    # core to go to: this variant shows what it buys when the capacity exists.
    "logins-3-2cores": dict(room_under_load("3 logins/s", logins=3), server_cores="0,1"),
    # Issue 24: the same room while 10 searches a second run against the worker
    # (the search page, GET /chat/search/?q=..., bench/search.py's queries in
    # turn, from 50 users), on 1,000,000 messages: run with --template
    # bench/.work/search-1m.sqlite3 or --database-url (bench/search.py build).
    "search": dict(room_under_load("10 searches/s", searches=10), search_users=50),
    # ... and while one more client floods 5,000 invalid events/s on its own
    # connection, reconnecting 250 ms after each cut. The frame budget is on with
    # its defaults (200 frames, then 50/s), and so is the per-user connect limit.
    "flood": dict(
        room_under_load("flood 5000/s", flood=True),
        flood=dict(rate=5000, reconnect=True, reconnectDelayMs=250),
        env={
            "FRAME_RATE_BURST": None,
            "FRAME_RATE_PER_SECOND": None,
            "CONNECT_RATE_BURST": None,
            "CONNECT_RATE_PER_MINUTE": None,
        },
    ),
    # Issue 21, item 1: 1,000 members of one room at 10 msg/s, alone, then while 100
    # more users (for 60 s) never read what the server sends (they also get the room's
    # broadcasts), answer its pings blindly and ask for a page of scroll-back
    # (100 of the 2,000-character lines seeded in the room: about 210 KB) 45
    # times a second each, coming back 1 s after each cut. The bound on what a
    # connection may have queued and the per-user budget at their defaults.
    "non-readers": dict(
        room_under_load("100 non-readers", loaded_s=60, members=1000, nonReaders=True),
        non_readers=dict(count=100, rate=45, reconnect=True, reconnectDelayMs=1000),
        seed_lines=dict(count=100, length=2000),
        watch_rss=True,
    ),
    # Issue 16: 2,000 distinct users (one source address each) open their sockets
    # at once into one room and retry as the page does; every limit at its default.
    "join-storm": dict(
        mode="storm",
        groups=[dict(rooms=["bench-100"], members=2000)],
        fill_concurrency=2000,
        clients_per_address=1,
        env=DEFAULT_LIMITS,
    ),
    # The same with at most 100 handshakes in flight (how the 42 joins/s
    # and the older idle-1room figures were taken).
    # 100 rooms x 100 + one room of 2,000 (12,000 distinct users), filled 200 at a
    # time; 6 senders (rooms 0-4 and the big one) at 1 msg/s; then the worker is
    # SIGKILLed, gunicorn's master starts a new one, and every client comes back
    # with the page's backoff and "after". Every limit at its default.
    "restart-storm": dict(
        mode="storm",
        groups=[
            dict(rooms=[f"bench-{r}" for r in range(100)], members=100),
            dict(rooms=["bench-100"], members=2000),
        ],
        fill_concurrency=200,
        clients_per_address=1,
        senders=[dict(room=r, rate=1) for r in (0, 1, 2, 3, 4, 100)],
        kill=True,
        env={**DEFAULT_LIMITS, "WORKER_CONNECTIONS": "14000"},
    ),
}
# The first observation: 10,000 users in 100 rooms x 100, no big room.
# The join storm with at most 100 handshakes in flight (how the 42
# joins/s and the older idle-1room figures were taken).
# The same with no bound and no budget: the code before issue 21 (python-engineio's
# unbounded queue). A worker that grows past RSS_CAP_MB is killed (shared machine).
SCENARIOS["non-readers-unbounded"] = dict(
    SCENARIOS["non-readers"],
    env={"SIO_MAX_QUEUED_BYTES": "0", "HISTORY_RATE_BURST": "0", "HISTORY_WORKER_BURST": "0"},
)
SCENARIOS["join-storm-c100"] = dict(SCENARIOS["join-storm"], fill_concurrency=100)
SCENARIOS["restart-storm-100x100"] = dict(
    SCENARIOS["restart-storm"],
    groups=[dict(rooms=[f"bench-{r}" for r in range(100)], members=100)],
    senders=[dict(room=r, rate=1) for r in (0, 1, 2, 3, 4)],
)
# A deploy instead of a crash: the worker gets SIGTERM (our worker says goodbye,
# d09/runtime/drain.py), gunicorn's master starts a new one once it has exited.
SCENARIOS["restart-storm-100x100-sigterm"] = dict(
    SCENARIOS["restart-storm-100x100"], kill_signal="SIGTERM"
)
STORM_SCENARIOS = {
    "join-storm",
    "join-storm-c100",
    "restart-storm",
    "restart-storm-100x100",
    "restart-storm-100x100-sigterm",
}
QUICK = {
    "idle": dict(rooms=10, members=100),
    "idle-deflate": dict(rooms=10, members=100),
    "idle-1room": dict(members=300),
    "fanout": dict(members=300, phases=[dict(rate=1, seconds=5)]),
    "fanout-deflate": dict(members=300, phases=[dict(rate=1, seconds=5)]),
    "rooms": dict(rooms=5, members=20, phases=[dict(rate=2, seconds=5)]),
    "saturation": dict(members=300, phases=[dict(rate=r, seconds=3) for r in (10, 30, 60, 100)]),
    "saturation-rooms": dict(
        rooms=5, members=20, phases=[dict(rate=r, seconds=3) for r in (10, 30, 60)]
    ),
    "logins": room_under_load("4 logins/s", alone_s=3, loaded_s=5, members=30, logins=4),
    "logins-tpool1": room_under_load("4 logins/s", alone_s=3, loaded_s=5, members=30, logins=4),
    "logins-2cores": room_under_load("4 logins/s", alone_s=3, loaded_s=5, members=30, logins=4),
    "logins-3-2cores": room_under_load("3 logins/s", alone_s=3, loaded_s=5, members=30, logins=3),
    "flood": room_under_load("flood 5000/s", alone_s=3, loaded_s=5, members=30, flood=True),
    "search": room_under_load("4 searches/s", alone_s=3, loaded_s=5, members=30, searches=4),
    "non-readers": dict(
        room_under_load("10 non-readers", alone_s=3, loaded_s=10, members=100, nonReaders=True),
        non_readers=dict(count=10, rate=45, reconnect=True, reconnectDelayMs=1000),
    ),
    "join-storm": dict(groups=[dict(rooms=["bench-100"], members=300)], fill_concurrency=300),
    "join-storm-c100": dict(groups=[dict(rooms=["bench-100"], members=300)]),
    "restart-storm-100x100": dict(
        groups=[dict(rooms=[f"bench-{r}" for r in range(10)], members=20)],
        senders=[dict(room=r, rate=1) for r in (0, 1)],
    ),
    "restart-storm-100x100-sigterm": dict(
        groups=[dict(rooms=[f"bench-{r}" for r in range(10)], members=20)],
        senders=[dict(room=r, rate=1) for r in (0, 1)],
    ),
    "restart-storm": dict(
        groups=[
            dict(rooms=[f"bench-{r}" for r in range(10)], members=20),
            dict(rooms=["bench-100"], members=200),
        ],
        senders=[dict(room=r, rate=1) for r in (0, 1, 10)],
    ),
}
# The Channels peer joins a 1000-member room at a few joins/s (every join sends the
# user list to every member, JSON-encoded once per recipient): these variants
# would add minutes each and compare nothing new.
CHANNELS_SKIPS = {
    "idle-deflate",
    "idle-1room",
    "fanout-deflate",
    "saturation-rooms",
    "logins",  # the peer has no login page of its own
    "search",  # nor a search page
    "logins-tpool1",
    "logins-2cores",
    "logins-3-2cores",
    "flood",
    "non-readers",
    "non-readers-unbounded",
    *STORM_SCENARIOS,  # its protocol has no reconnect, no "after"
}
# daphne accepts ~15 connections/s here (10k would take 11 minutes): its idle
# memory is measured on 1,000 connections (10 rooms x 100), per connection.
CHANNELS_SIZES = {"idle": dict(rooms=10)}
DEFAULT_SCENARIOS = (
    "idle,idle-deflate,idle-1room,fanout,fanout-deflate,rooms,saturation,saturation-rooms"
)


def stop_process(process):
    """SIGTERM, then SIGKILL after 20 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def raise_nofile():
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def rss_kb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def established_socket_inodes(port):
    """Inodes of the ESTABLISHED TCP sockets whose local port is ``port``."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
    return inodes


def socket_inodes(pid):
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            link = os.readlink(fd)
            if link.startswith("socket:["):
                inodes.add(link[len("socket:[") : -1])
    return inodes


def git_commit(root=None):
    with contextlib.suppress(Exception):
        return subprocess.check_output(
            ["git", "-C", str(root or SERVER_ROOT), "rev-parse", "--short", "HEAD"], text=True
        ).strip()
    return "?"


def open_fds(pid):
    with contextlib.suppress(OSError):
        return len(os.listdir(f"/proc/{pid}/fd"))
    return None


def children(pid):
    with contextlib.suppress(OSError):
        return sorted(int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split())
    return []


class WorkerWatch:
    """Samples the worker's open descriptors and RSS every ``every`` seconds in a
    thread, following gunicorn's master to the new worker after a kill: the peak
    descriptors before and after the kill, when the new worker appeared, and a
    timeline after the kill. With ``profile`` (a speedscope path), py-spy records
    the new worker from when it appears: the storm itself, not the fill."""

    def __init__(self, server, every=0.5, profile=None):
        self.server = server
        self.every = every
        self.profile = profile
        self._spy = None
        self.killed_at = None
        self.killed_pid = None
        self.new_worker_at = None
        self.new_pid = None
        self.peak_before = 0
        self.peak_after = 0
        self.rss_peak_after_kb = 0
        self.replaced_before_kill = 0  # workers gunicorn replaced before our kill
        self.timeline = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def follow(self):
        """The master's current workers (gunicorn replaces one it killed for a
        WORKER TIMEOUT): server.pids follows them."""
        pids = children(self.server.process.pid)
        if pids and pids != self.server.pids and self.killed_at is None:
            self.replaced_before_kill += len(set(self.server.pids) - set(pids))
            self.server.pids, self.server.pid = pids, pids[0]
        return pids

    def kill_worker(self, sig=signal.SIGKILL):
        pids = self.follow() or self.server.pids
        pid = pids[0]
        self.killed_pid = pid
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        self.killed_at = time.monotonic()

    def _run(self):
        while not self._stop.wait(self.every):
            if self.killed_at is None:
                self.follow()
                fds = sum(open_fds(p) or 0 for p in self.server.pids)
                self.peak_before = max(self.peak_before, fds)
                continue
            pids = [p for p in children(self.server.process.pid) if p != self.killed_pid]
            if not pids:
                continue
            if self.new_pid is None:
                self.new_pid = pids[0]
                self.new_worker_at = time.monotonic()
                self.server.pids = pids
                self.server.pid = pids[0]
                if self.profile:
                    self._spy = spy_on(self.new_pid, self.profile)
            fds = open_fds(pids[0]) or 0
            rss = rss_kb(pids[0]) if Path(f"/proc/{pids[0]}").exists() else 0
            self.peak_after = max(self.peak_after, fds)
            self.rss_peak_after_kb = max(self.rss_peak_after_kb, rss)
            self.timeline.append((round(time.monotonic() - self.killed_at, 1), fds))

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=5)
        if self._spy is not None:
            self._spy.send_signal(signal.SIGINT)
            self._spy.wait(timeout=60)

    def figures(self):
        out = {
            "fd_peak_before_kill": self.peak_before,
            "workers_replaced_before_kill": self.replaced_before_kill,
        }
        if self.killed_at is not None:
            out.update(
                fd_peak_after_kill=self.peak_after,
                rss_peak_after_kill_kb=self.rss_peak_after_kb,
                new_worker_after_s=(
                    round(self.new_worker_at - self.killed_at, 2) if self.new_worker_at else None
                ),
                # every 5th sample (2.5 s): enough to see a pile-up
                fd_timeline_after_kill=self.timeline[::5],
            )
        return out


class RedisServer:
    """A throwaway redis-server (no persistence), a fresh one per scenario of the
    two-worker peer; not pinned (both cores are shared anyway)."""

    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log_path = WORK / "redis.log"

    def start(self):
        binary = shutil.which("redis-server")
        if not binary:
            raise RuntimeError("redis-server is missing (scripts/ensure-system-deps installs it)")
        self.log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(
            [
                *(binary, "--bind", "127.0.0.1", "--port", str(self.port)),
                *("--save", "", "--appendonly", "no", "--dir", str(WORK)),
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while self.process.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if self.command("PING").startswith("+PONG"):
                    return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"redis-server did not start: see {self.log_path}")

    def command(self, line):
        """One inline command; the raw reply (enough for PING and INFO)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
            sock.sendall(line.encode() + b"\r\n")
            reply = b""
            while True:
                chunk = sock.recv(65536)
                reply += chunk
                if not chunk or reply.startswith(b"+") or reply.startswith(b"-"):
                    break
                if reply.startswith(b"$"):
                    size, _, body = reply.partition(b"\r\n")
                    if len(body) >= int(size[1:]):
                        break
            return reply.decode(errors="replace")

    def info(self):
        """A few INFO fields, read at the end of a run."""
        keys = ("total_commands_processed", "rejected_connections", "used_memory_peak_human")
        fields = dict(
            line.split(":", 1) for line in self.command("INFO").splitlines() if ":" in line
        )
        return {k: fields[k].strip() for k in keys if k in fields}

    def stop(self):
        stop_process(self.process)
        self.log.close()


class Server:
    """One peer's server process, pinned to SERVER_CORE (the two-worker peer to
    TWO_WORKER_CORES). ``pids`` are its worker processes; figures sum over them."""

    def __init__(self, peer, env_extra, db_url, sessions, nrooms, cores=None):
        self.peer = peer
        self.workers = 2 if peer == TWO_WORKERS else 1
        self.cores = cores or (TWO_WORKER_CORES if peer == TWO_WORKERS else SERVER_CORE)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        base = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
        env = {
            **base,
            "DATABASE_URL": db_url,
            "SECRET_KEY": SECRET_KEY,
            "DEBUG": "0",
            "WORKER_CONNECTIONS": WORKER_CONNECTIONS,
            # One generator on one address opens thousands of sockets and one
            # sender floods a room: flood control off (disabled, a limit costs
            # one attribute check), as a deployment behind a trusted proxy might.
            "CONNECT_RATE_BURST": "0",
            "ADDRESS_RATE_BURST": "0",
            "PENDING_SESSIONS_PER_ADDRESS": "100000",
            "MESSAGE_RATE_BURST": "0",
            "FRAME_RATE_BURST": "0",
            "BENCH_SESSIONS": str(sessions),
            "BENCH_ROOMS": str(nrooms),
        }
        for key, value in env_extra.items():  # None: the server's own default
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        self.env = env
        self.log_path = WORK / f"server-{peer}.log"

    def command(self):
        bind = f"127.0.0.1:{self.port}"
        if self.peer in OURS:
            # As users run it; with -w 2 gunicorn.conf.py requires REDIS_URL (run_one).
            return SERVER_ROOT, [
                *(str(SERVER_VENV_BIN / "gunicorn"), "-k", "eventlet"),
                *("-w", str(self.workers), "-b", bind),
            ]
        if self.peer in ("bare", "bare-versions"):
            if self.peer == "bare-versions":
                self.env["BARE_PRESENCE"] = "versions"
            return BENCH / "peers", [
                str(VENV_BIN / "gunicorn"),
                *("-k", "eventlet", "-w", "1"),
                *("--worker-connections", self.env["WORKER_CONNECTIONS"]),
                *("-b", bind, "bare_socketio:app"),
            ]
        if self.peer == "channels":
            self.env["PYTHONPATH"] = f"{BENCH / 'peers'}:{ROOT}"
            return BENCH / "peers", [
                str(CHANNELS_BIN / "daphne"),
                *("-b", "127.0.0.1", "-p", str(self.port), "--websocket_connect_timeout", "300"),
                "channels_chat.asgi:application",
            ]
        raise ValueError(self.peer)

    def start(self):
        cwd, cmd = self.command()
        if self.peer in OURS:
            cmd.append("sio_server:app")
        try:
            self._start(cwd, cmd)
        except BaseException:
            self.stop()
            raise

    def _start(self, cwd, cmd):
        self.log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(
            ["taskset", "-c", self.cores, *cmd],
            cwd=cwd,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            preexec_fn=raise_nofile,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.peer} exited: see {self.log_path}")
            try:
                urllib.request.urlopen(self.url + "/account", timeout=2)
                break
            except urllib.error.HTTPError:
                break  # any HTTP answer means it serves
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError(f"{self.peer} did not answer: see {self.log_path}")
        self.pids = self.worker_pids()
        self.pid = self.pids[0]
        if self.workers > 1:
            self.wait_for_log("shared through Redis", self.workers)
        time.sleep(0.5)
        self.rss_base = self.rss_kb()

    def worker_pids(self):
        pid = self.process.pid
        if self.peer == "channels":
            return [pid]
        for _ in range(100):
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            if len(children) >= self.workers:
                return sorted(int(c) for c in children)
            time.sleep(0.1)
        raise RuntimeError(f"not {self.workers} gunicorn worker(s)")

    def new_log(self):
        with open(self.log_path, "rb") as log:
            log.seek(self.log_offset)
            return log.read().decode(errors="replace")

    def wait_for_log(self, text, count, seconds=60):
        """Until every worker has loaded the app (each logs its shared state)."""
        deadline = time.monotonic() + seconds
        while self.new_log().count(text) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.peer}: not {count} x {text!r} in {self.log_path}")
            time.sleep(0.2)

    def log_errors(self):
        """Lines of this run's server log that report an error (not gunicorn's own
        two lines about a worker it killed or lost: LOG_MARKERS counts those)."""
        return [
            line
            for line in self.new_log().splitlines()
            if (" ERROR " in line or "[ERROR]" in line or line.startswith("Traceback"))
            and "was sent SIGKILL" not in line
            and "Control server error" not in line
        ]

    def rss_kb(self):
        total = 0
        for pid in self.pids:
            with contextlib.suppress(OSError):  # a worker gunicorn killed (WORKER TIMEOUT)
                total += rss_kb(pid)
        return total

    def cpu_seconds(self):
        """CPU seconds of the workers; a worker that died counts with its last reading."""
        last = self.__dict__.setdefault("_last_cpu", {})
        for pid in self.pids:
            with contextlib.suppress(OSError):
                last[pid] = cpu_seconds(pid)
        return sum(last.get(pid, 0) for pid in self.pids)

    def connections_per_worker(self):
        """ESTABLISHED client sockets held by each worker (how accept() split them)."""
        established = established_socket_inodes(self.port)
        return [len(socket_inodes(pid) & established) for pid in self.pids]

    def stop(self):
        if getattr(self, "process", None):
            stop_process(self.process)
        if getattr(self, "log", None):
            self.log.close()


def real_login_cookie(url):
    """Log alice in the way the page does (GET /account for the CSRF cookie, then POST)."""
    import http.cookiejar

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(url + "/account", timeout=10).read()
    token = next(c.value for c in jar if c.name == "csrftoken")
    body = urllib.parse.urlencode({"username": "alice", "password": "chat-demo-2024"}).encode()
    request = urllib.request.Request(
        url + "/account/login",
        data=body,
        headers={"X-CSRFToken": token, "Referer": url + "/account"},
    )
    opener.open(request, timeout=30).read()
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def cpu_mark(server, redis, previous=None, phase=None):
    """CPU seconds of the workers (and Redis) now; given a ``phase``, what it used
    since the ``previous`` mark goes into it: its own share, so that CPU per
    delivery can be compared step by step (the phase event comes after the
    phase and its drain; a few idle seconds of pings are in it)."""
    mark = {"server": server.cpu_seconds(), "redis": cpu_seconds(redis.process.pid) if redis else 0}
    if phase is not None:
        phase["server_cpu_s"] = round(mark["server"] - previous["server"], 3)
        if redis:
            phase["redis_cpu_s"] = round(mark["redis"] - previous["redis"], 3)
    return mark


def cpu_per_1k_deliveries(phase):
    """Server (+ Redis) CPU milliseconds per 1000 deliveries in one phase."""
    cpu = phase.get("server_cpu_s")
    count = phase.get("deliveries")
    if cpu is None or not count:
        return None
    return 1e6 * (cpu + phase.get("redis_cpu_s", 0)) / count


def start_loadgen(config):
    """loadgen.js on GENERATOR_CORE, reading lines on stdin, writing events on stdout."""
    return subprocess.Popen(
        ["taskset", "-c", GENERATOR_CORE, "node", str(BENCH / "loadgen.js"), json.dumps(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=raise_nofile,
    )


def run_storm_generator(config, server, profile=None):
    """loadgen.js in storm mode: the fill (``filled``), and with ``kill`` the
    worker SIGKILLed when the generator says ``kill-now`` (then a line on its
    stdin) and the storm that follows (``storm``). Descriptors and RSS of the
    worker are sampled throughout (WorkerWatch)."""
    proc = start_loadgen(config)
    watch = WorkerWatch(server, profile=profile).start()
    events, figures = [], {}
    cpu0 = server.cpu_seconds()
    t0 = time.monotonic()
    try:
        for line in proc.stdout:
            event = json.loads(line)
            events.append(event)
            if event["event"] == "filled":
                figures["rss_filled_kb"] = server.rss_kb()
                figures["fill_server_cpu_s"] = round(server.cpu_seconds() - cpu0, 2)
                figures["fill_wall_s"] = round(time.monotonic() - t0, 2)
            if event["event"] == "kill-now":
                watch.follow()
                figures["rss_before_kill_kb"] = server.rss_kb()
                figures["fds_before_kill"] = open_fds(server.pids[0])
                sig = signal.Signals[config.get("killSignal", "SIGKILL")]
                watch.kill_worker(sig)
                print(f"    killed worker {watch.killed_pid} ({sig.name})", flush=True)
                proc.stdin.write("killed\n")
                proc.stdin.flush()
                cpu_kill = time.monotonic()
            if event["event"] == "storm":
                figures["rss_after_storm_kb"] = server.rss_kb()
                with contextlib.suppress(Exception):
                    # the new worker's CPU since it started (it did nothing else)
                    figures["storm_server_cpu_s"] = round(server.cpu_seconds(), 2)
                    figures["storm_wall_s"] = round(time.monotonic() - cpu_kill, 2)
        proc.wait(timeout=60)
    finally:
        watch.stop()
        if proc.poll() is None:
            proc.kill()
    figures.update(watch.figures())
    return events, figures


class RssPeak:
    """Samples the server's RSS every ``every`` seconds in a thread: ``take()``
    is the peak since the last take. Past ``cap_mb`` the workers are killed
    (``capped``: when, in seconds from the start)."""

    def __init__(self, server, cap_mb=RSS_CAP_MB, every=0.1):
        self.server, self.cap_kb, self.every = server, cap_mb * 1024, every
        self.peak_kb, self.capped = 0, None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.started = time.monotonic()
        self._thread.start()
        return self

    def _rss_kb(self):
        with contextlib.suppress(OSError):  # a killed worker
            return self.server.rss_kb()
        return 0

    def _run(self):
        while not self._stop.wait(self.every):
            rss = self._rss_kb()
            self.peak_kb = max(self.peak_kb, rss)
            if rss > self.cap_kb and self.capped is None:
                self.capped = round(time.monotonic() - self.started, 1)
                for pid in self.server.pids:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)

    def take(self):
        peak, self.peak_kb = self.peak_kb, self._rss_kb()
        return peak

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=5)


def seed_lines(db_url, room, count, length):
    """``count`` lines of ``length`` characters stored in ``room`` (by alice,
    each with the room's next change number, as the chat stores them) before
    the server starts; returns the id after the last one."""
    script = f"""
from django.contrib.auth import get_user_model
from django.db import transaction
from chat.messages import next_seq
from chat.models import Message, Room
room = Room.objects.get(slug={room!r})
author = get_user_model().objects.get(username="alice")
with transaction.atomic():
    for i in range({count}):
        text = f"{{i:>5}} " + "x" * ({length} - 6)
        last = Message.objects.create(room=room, author=author, text=text, seq=next_seq(room.id))
print(last.id)
"""
    out = subprocess.run(
        [str(SERVER_VENV_BIN / "python"), "manage.py", "shell", "-c", script],
        cwd=SERVER_ROOT,
        env=server_env(db_url),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return int(out.strip().splitlines()[-1]) + 1


def spy_on(pid, out):
    """py-spy recording process ``pid`` into ``out`` (speedscope) until SIGINT."""
    return subprocess.Popen(
        [
            *(str(CHANNELS_BIN / "py-spy"), "record", "-p", str(pid)),
            *("--nonblocking", "-r", "200", "-f", "speedscope", "-o", out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def run_generator(config, server, profile=None, redis=None, rss=None):
    """Run loadgen.js on GENERATOR_CORE; returns its parsed events and server figures
    (RSS and CPU summed over the server's workers; CPU as a fraction of one core)."""
    proc = start_loadgen(config)
    events, figures, spies = [], {}, []
    for line in proc.stdout:
        event = json.loads(line)
        events.append(event)
        if event["event"] == "phase" and rss is not None:
            event["server_rss_peak_kb"] = rss.take()
            event["server_killed_at_rss_cap_after_s"] = rss.capped
        if event["event"] == "connected":
            figures["rss_connected_kb"] = server.rss_kb()
            figures["t_connected"] = time.monotonic()
            at_connected = mark = cpu_mark(server, redis)
            if len(server.pids) > 1:  # all joined; a few ms of /proc reading
                figures["conns_per_worker"] = server.connections_per_worker()
            for i, pid in enumerate(server.pids if profile else []):
                out = (
                    profile
                    if len(server.pids) == 1
                    else profile.replace(".speedscope", f"-w{i}.speedscope")
                )
                spies.append(spy_on(pid, out))
        if event["event"] == "ready":
            time.sleep(2)  # let the allocator settle after the join storm
            figures["rss_idle_kb"] = server.rss_kb()
            proc.stdin.write("release\n")
            proc.stdin.flush()
        if event["event"] in ("phase", "done") and "t_connected" in figures:
            now = cpu_mark(server, redis, mark, event if event["event"] == "phase" else None)
            if event["event"] == "phase":
                mark = now
            elapsed = time.monotonic() - figures["t_connected"]
            figures["server_cpu_fraction"] = round(
                (now["server"] - at_connected["server"]) / elapsed, 3
            )
            if redis:
                figures["redis_cpu_fraction"] = round(
                    (now["redis"] - at_connected["redis"]) / elapsed, 3
                )
            figures["rss_end_kb"] = server.rss_kb()
    proc.wait(timeout=60)
    for spy in spies:
        spy.send_signal(2)
        spy.wait(timeout=60)
    return events, figures


def scenario_config(name, quick):
    spec = dict(SCENARIOS[name])
    if quick:
        spec.update(QUICK[name])
    return spec


def loadavg():
    """The 1, 5 and 15 minute load averages (what `uptime` shows): the machine is shared."""
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def machine_busy_seconds():
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


class MachineCpu:
    """Cores other people's processes used during a run: the machine's busy time
    minus the bench's own (load average cannot tell: it also counts our own
    runnable threads, e.g. 20 hashing threads waiting for one core). The bench's
    own is sampled every 0.5 s over run.py's process tree (servers, workers,
    generator, redis), keeping each process's last CPU reading: a worker that
    gunicorn SIGKILLs at shutdown is never reaped by anyone who would count it."""

    def __init__(self, every=0.5):
        self.every = every
        self.seen = {}  # (pid, start time) -> CPU seconds at its last reading
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self):
        todo = children(os.getpid())
        while todo:
            pid = todo.pop()
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
                self.seen[(pid, fields[19])] = cpu
                todo += children(pid)

    def _run(self):
        while not self._stop.wait(self.every):
            self._sample()

    def start(self):
        self.busy0, self.wall0 = machine_busy_seconds(), time.monotonic()
        t = os.times()
        self.self0 = t.user + t.system
        self._thread.start()
        return self

    def stop(self):
        self._sample()
        self._stop.set()
        self._thread.join(timeout=5)
        wall = time.monotonic() - self.wall0
        busy = machine_busy_seconds() - self.busy0
        t = os.times()
        ours = sum(self.seen.values()) + (t.user + t.system - self.self0)
        return {
            "machine_busy_cores": round(busy / wall, 2),
            "bench_cores": round(ours / wall, 2),
            "others_cores": round(max(0.0, busy - ours) / wall, 2),
        }


def run_one(peer, name, spec, sessions, db_url, args):
    redis = RedisServer().start() if peer == TWO_WORKERS else None
    before = loadavg()
    machine = MachineCpu().start()
    print(f"{peer} {name}: load average {before} before", flush=True)
    try:
        result = run_server(peer, name, spec, sessions, db_url, args, redis)
    finally:
        if redis:
            redis.stop()
        cpu = machine.stop()
    result["load"] = {"before": before, "after": loadavg(), **cpu}
    print(f"    machine during the run: {result['load']}", flush=True)
    return result


def storm_config(server, spec, sessions):
    return {
        "url": server.url,
        "protocol": "sio",
        "mode": "storm",
        "sessions": str(sessions),
        "groups": spec["groups"],
        "senders": spec.get("senders", []),
        "clientsPerAddress": spec.get("clients_per_address", 0),
        "fillConcurrency": spec.get("fill_concurrency", 200),
        "fillTimeoutSeconds": spec.get("fill_timeout_seconds", 300),
        "settleMaxSeconds": 120,
        "kill": spec.get("kill", False),
        "killSignal": spec.get("kill_signal", "SIGKILL"),
        "preKillSeconds": 5,
        "stormTimeoutSeconds": spec.get("storm_timeout_seconds", 300),
        "postSeconds": 5,
    }


def run_server(peer, name, spec, sessions, db_url, args, redis=None):
    env = {"WS_COMPRESSION": "1"} if peer == "ours-compress" else {}
    if redis:
        env["REDIS_URL"] = redis.url
    env.update(spec.get("env", {}))
    server = Server(peer, env, db_url, sessions, args.room_count, spec.get("server_cores"))
    seeded = seed_lines(db_url, "bench-0", **spec["seed_lines"]) if spec.get("seed_lines") else None
    server.start()
    if spec.get("mode") == "storm":
        profile = None
        if args.profile and spec.get("kill"):
            (RESULTS / "profiles").mkdir(parents=True, exist_ok=True)
            profile = str(RESULTS / "profiles" / f"{peer}-{name}-storm.speedscope.json")
        return run_storm_server(peer, name, spec, sessions, server, profile)
    try:
        config = {
            "url": server.url,
            "protocol": "channels" if peer == "channels" else "sio",
            "sessions": str(sessions),
            "rooms": [f"bench-{r}" for r in range(spec["rooms"])],
            "members": spec["members"],
            "deflate": spec.get("deflate", False),
            # daphne rejects a handshake the app has not accepted within the timeout:
            # fewer handshakes in flight for the Channels peer.
            "concurrency": 10 if peer == "channels" else 100,
            "mode": spec.get("mode", "load"),
            "holdSeconds": 60,
            "phases": spec.get("phases", []),
            "stopP99Ms": spec.get("stop_p99_ms"),
            "drainSeconds": 3,
            "settleMaxSeconds": 120,
            "clientsPerAddress": spec.get("clients_per_address", 0),
        }
        if spec.get("flood"):
            # The flooder is one more user of the first room, not a member counted
            # in the figures.
            config["flood"] = {**spec["flood"], "session": spec["rooms"] * spec["members"]}
        if spec.get("non_readers"):
            # Users after the members and the flooder's.
            first = spec["rooms"] * spec["members"] + 1
            config["nonReaders"] = {**spec["non_readers"], "sessionFirst": first}
            config["nonReaders"]["before"] = seeded or 999999999
        if any(p.get("searches") for p in spec.get("phases", [])):
            # Users after the members (and a flooder's session).
            config["searches"] = {
                "sessionFirst": spec["rooms"] * spec["members"] + 1,
                "users": spec.get("search_users", 50),
                "queries": LOADED_SEARCHES,
            }
        if any(p.get("logins") for p in spec.get("phases", [])):
            config["logins"] = {"users": LOGIN_USERS, "password": LOGIN_PASSWORD}
        profile = None
        if args.profile and spec.get("mode") != "idle":
            (RESULTS / "profiles").mkdir(parents=True, exist_ok=True)
            profile = str(RESULTS / "profiles" / f"{peer}-{name}.speedscope.json")
        started = time.monotonic()
        rss = RssPeak(server).start() if spec.get("watch_rss") else None
        try:
            events, figures = run_generator(config, server, profile, redis, rss)
        finally:
            if rss:
                rss.stop()
        seconds = round(time.monotonic() - started, 1)
        redis_info = redis.info() if redis else None
    finally:
        server.stop()
    log_errors = server.log_errors()
    counts = log_counts(server.new_log())
    connected = next((e for e in events if e["event"] == "connected"), {})
    phases = [e for e in events if e["event"] == "phase"]
    errors = [e for e in events if e["event"] == "error"]
    n = connected.get("connected", 0)
    result = {
        "peer": peer,
        "scenario": name,
        "spec": spec,
        "seconds": seconds,
        "connected": connected,
        "phases": phases,
        "errors": errors,
        "server": {"rss_base_kb": server.rss_base, "workers": len(server.pids), **figures},
        "server_log_errors": len(log_errors),
        "server_log_error_sample": log_errors[:5],
        "server_log_counts": counts,
        "done": next((e for e in events if e["event"] == "done"), {}),
    }
    if redis_info is not None:
        result["redis"] = redis_info
    if "rss_idle_kb" in figures and n:
        grown = figures["rss_idle_kb"] - server.rss_base
        result["server"]["rss_per_conn_kb"] = round(grown / n, 1)
    if phases and spec.get("stop_p99_ms"):
        ok = [p for p in phases if (p["latency_ms"]["p99"] or 1e9) <= spec["stop_p99_ms"]]
        best = max(ok, key=lambda p: p["deliveries_per_s"]) if ok else None
        result["saturation"] = {
            "deliveries_per_s_at_p99_ok": best["deliveries_per_s"] if best else 0,
            "p99_ms_there": best["latency_ms"]["p99"] if best else None,
            "max_deliveries_per_s": max(p["deliveries_per_s"] for p in phases),
        }
    print(headline(result), flush=True)
    return result


def run_storm_server(peer, name, spec, sessions, server, profile=None):
    started = time.monotonic()
    try:
        config = storm_config(server, spec, sessions)
        events, figures = run_storm_generator(config, server, profile)
        seconds = round(time.monotonic() - started, 1)
    finally:
        server.stop()
    log_errors = server.log_errors()
    log = server.new_log()
    result = {
        "peer": peer,
        "scenario": name,
        "spec": spec,
        "seconds": seconds,
        "fill": next((e for e in events if e["event"] == "filled"), {}),
        "kill": next((e for e in events if e["event"] == "kill-now"), None),
        "storm": next((e for e in events if e["event"] == "storm"), None),
        "errors": [e for e in events if e["event"] == "error"],
        "server": {"rss_base_kb": server.rss_base, **figures},
        "server_log_errors": len(log_errors),
        "server_log_error_sample": log_errors[:5],
        "server_log_counts": log_counts(log),
        "phases": [],
        "connected": {},
    }
    print(storm_headline(result), flush=True)
    return result


LOG_MARKERS = (
    "WORKER TIMEOUT",  # gunicorn killed a worker that stopped answering its heartbeat
    "was sent SIGKILL",
    "Control server error",  # gunicorn's master, each time it starts a new worker
    "Booting worker",
    "Too many open files",
    "Removing descriptor",
    "unable to open database file",
    "stayed locked",
    "Cannot send to sid",
    "ping timeout",
    "frames faster than its budget",
    "Traceback",
)


def log_counts(log):
    """How often each marker appears in a run's server log (what went wrong, if anything)."""
    return {text: log.count(text) for text in LOG_MARKERS if text in log}


def storm_figure(block):
    """The one-line summary of a fill or storm block of a storm scenario."""
    if not block:
        return "no data"
    b = block.get("bytes", {})
    by = b.get("by_type", {})
    users = by.get("users", {}).get("bytes", 0)
    total = b.get("total_bytes") or 0
    share = f"{100 * users / total:.1f}%" if total else "-"
    return (
        f"{block.get('joins')} joins, {block.get('joins_per_s')} joins/s, all connected "
        f"{block.get('seconds_to_all_connected')} s, lists correct "
        f"{block.get('seconds_to_all_lists_correct')} s, server sent {total / 1e6:.1f} MB "
        f"({share} users lists), open {block.get('open_now')}/{block.get('clients')} "
        f"(most at once {block.get('open_max')}), "
        f"gen-cpu {block.get('gen_cpu')}"
    )


def storm_headline(r):
    parts = [f"{r['peer']:>13} {r['scenario']:<15} fill: {storm_figure(r['fill'])}"]
    storm = r.get("storm")
    if storm:
        a = storm.get("audit", {})
        parts.append(
            f"\n    storm: {storm_figure(storm)}; messages acked {a.get('messages_acked')}, "
            f"lost {a.get('lost')}, dup {a.get('duplicated')}, all delivered "
            f"{storm.get('seconds_to_all_messages')} s"
        )
    s = r["server"]
    parts.append(
        f"fds peak {s.get('fd_peak_before_kill')}"
        + (f" / after kill {s.get('fd_peak_after_kill')}" if "fd_peak_after_kill" in s else "")
    )
    if r.get("server_log_errors"):
        parts.append(f"{r['server_log_errors']} error lines in server-{r['peer']}.log")
    parts.append(f"log: {r.get('server_log_counts')}")
    return " | ".join(parts)


def headline(r):
    if r["spec"].get("mode") == "storm":
        return storm_headline(r)
    s, c = r["server"], r["connected"]
    parts = [f"{r['peer']:>13} {r['scenario']:<15} conn {c.get('connected')}/{c.get('failed')}"]
    parts.append(f"join {c.get('connects_per_s')}/s settle {c.get('settle_seconds')}s")
    if "rss_per_conn_kb" in s:
        parts.append(f"rss/conn {s['rss_per_conn_kb']} KB")
    for p in r["phases"]:
        lat = p["latency_ms"]
        parts.append(
            f"\n    R={p['rate_per_sender']}x{p['senders']} {p['deliveries_per_s']} del/s "
            f"p50 {lat['p50']} p90 {lat['p90']} p99 {lat['p99']} max {lat['max']} ms "
            f"lost {p['lost']} dup {p['duplicated']} ooo {p['out_of_order']} "
            f"gen-cpu {p['gen_cpu']}"
        )
    parts.append(f"server-cpu {s.get('server_cpu_fraction')}")
    if "conns_per_worker" in s:
        parts.append(f"conns/worker {'/'.join(map(str, s['conns_per_worker']))}")
    if "redis_cpu_fraction" in s:
        parts.append(f"redis-cpu {s['redis_cpu_fraction']} {r.get('redis', {})}")
    if r.get("server_log_errors"):
        parts.append(f"{r['server_log_errors']} error lines in server-{r['peer']}.log")
    if r.get("server_log_counts"):
        parts.append(f"log: {r['server_log_counts']}")
    return " | ".join(parts)


def metric(r):
    """(value, unit, better) of a run for the comparison table."""
    name = r["scenario"]
    if name.startswith("join-storm"):
        return r["fill"].get("joins_per_s"), "joins/s", "higher"
    if name.startswith("restart-storm"):
        storm = r.get("storm") or {}
        return storm.get("seconds_to_all_lists_correct"), "s to all back, lists right", "lower"
    if name.startswith("idle"):
        return r["server"].get("rss_per_conn_kb"), "KB RSS/conn", "lower"
    if name.startswith("saturation"):
        return r.get("saturation", {}).get("deliveries_per_s_at_p99_ok"), "del/s p99<=250", "higher"
    p = r["phases"][-1] if r["phases"] else None
    return (p["latency_ms"]["p99"] if p else None), "p99 ms", "lower"


def log_note(r):
    """What went wrong in the server's log, for the table."""
    counts = r.get("server_log_counts") or {}
    keys = ("WORKER TIMEOUT", "ping timeout", "Too many open files", "Removing descriptor")
    found = {k: counts[k] for k in keys if counts.get(k)}
    if r.get("server_log_errors"):
        found["error lines"] = r["server_log_errors"]
    return f"; **log: {found}**" if found else ""


def detail(r):
    if r["scenario"].startswith("join-storm"):
        s = r["server"]
        fds = f", worker fds peak {s.get('fd_peak_before_kill')}"
        return storm_figure(r["fill"]) + fds + log_note(r)
    if r["scenario"].startswith("restart-storm"):
        storm = r.get("storm") or {}
        a = storm.get("audit", {})
        s = r["server"]
        return (
            f"fill: {storm_figure(r['fill'])}; after the kill: {storm_figure(storm)}, "
            f"messages acked {a.get('messages_acked')} lost {a.get('lost')} dup "
            f"{a.get('duplicated')} (not back yet: {a.get('missing_at_members_not_back')} "
            f"deliveries missing), worker fds peak {s.get('fd_peak_before_kill')} before / "
            f"{s.get('fd_peak_after_kill')} after the kill, new worker after "
            f"{s.get('new_worker_after_s')} s" + log_note(r)
        )
    if r["scenario"].startswith("idle"):
        c = r["connected"]
        return f"{c.get('connected')} conns, {c.get('connects_per_s')} joins/s"
    if r["scenario"].startswith("saturation"):
        s = r.get("saturation", {})
        return f"p99 {s.get('p99_ms_there')} ms, max {s.get('max_deliveries_per_s')} del/s"
    p = r["phases"][-1] if r["phases"] else None
    if not p:
        return "no data"
    lat = p["latency_ms"]
    # When each message reached its last recipient: p50 near the p99 above means
    # a long tail in every fan-out; a p50 far below it, a few stalled messages.
    last = p.get("last_delivery_ms") or {}
    text = (
        f"{p['deliveries_per_s']} del/s, p50 {lat['p50']} p90 {lat['p90']} max {lat['max']} ms, "
        f"last recipient p50 {last.get('p50')} ms, "
        f"lost {p['lost']} dup {p['duplicated']} ooo {p['out_of_order']}, gen-cpu {p['gen_cpu']}"
    )
    if len(r["phases"]) > 1 and r["phases"][0].get("label"):
        first = r["phases"][0]
        text = f"{p.get('label')}: {text}; {first['label']}: p99 {first['latency_ms']['p99']} ms"
    for kind in ("logins", "searches"):
        if p.get(kind):
            text += open_loop_note(kind, p[kind])
    if p.get("flood"):
        f = p["flood"]
        text += f"; flooder: {f['frames_sent']} frames ({f['frames_per_s']}/s), {cut_note(f)}"
    if p.get("non_readers"):
        text += f"; {p['non_readers']['count']} non-readers: {cut_note(p['non_readers'])}"
    if "server_rss_peak_kb" in p:
        text += f"; **worker RSS peak {p['server_rss_peak_kb'] // 1024} MB**"
        base = r["phases"][0].get("server_rss_peak_kb")
        text += f" ({base // 1024} MB alone)" if base else ""
        if p.get("server_killed_at_rss_cap_after_s") is not None:
            text += f", killed at the {RSS_CAP_MB} MB cap"
    closed = sum(v for k, v in r.get("done", {}).get("failures", {}).items() if "later" in k)
    if closed:
        text += f"; **{closed} members lost their connection**"
    counts = r.get("server_log_counts") or {}
    if counts.get("WORKER TIMEOUT"):
        text += f"; **worker killed by gunicorn: WORKER TIMEOUT x{counts['WORKER TIMEOUT']}**"
    return text


def open_loop_note(kind, report):
    """ "; logins: ...": what the phase's open loop of requests got."""
    errors = f" {report['errors']}" if report["errors"] else ""
    return (
        f"; {kind}: {report['ok']} ok / {report['started']} started, {report['failed']} "
        f"failed{errors}, {report['completed_per_s_in_phase']}/s done in the phase, latency "
        f"p50 {report['latency_ms']['p50']} p99 {report['latency_ms']['p99']} ms"
    )


def cut_note(report):
    """How a misbehaving client's connections ended (loadgen.js misbehavingReport)."""
    cut = report["ms_first_frame_to_cut"]
    return (
        f"{report['connections']} connections, {report['cut']} cut after "
        f"{report['frames_before_cut']['p50']} frames / {cut['p50']} ms (p50; max "
        f"{cut['max']} ms), ended by {report['ended_by']}, "
        f"refused attempts {report['refused_attempts']}"
    )


def two_worker_note(r, ours):
    """The two-worker peer against one worker (ours) in the same run, and how the
    connections split between its workers."""
    note = ""
    value, unit, _better = metric(r)
    ours_value = metric(ours)[0] if ours else None
    if value and ours_value:
        note += f", **{unit.split()[0]} {value / ours_value:.2f}x ours**"
        if r["scenario"].startswith("saturation"):
            mine = r["saturation"]["max_deliveries_per_s"]
            theirs = ours["saturation"]["max_deliveries_per_s"]
            note += f" (max {mine / theirs:.2f}x)" if theirs else ""
    split = r["server"].get("conns_per_worker")
    if split:
        note += f", conns per worker {'/'.join(map(str, split))}"
    cpu = r["server"].get("server_cpu_fraction")
    if cpu is not None:
        note += f", workers' cpu {cpu} cores, redis {r['server'].get('redis_cpu_fraction')}"
    return note + cpu_cost_note(r, ours)


def cpu_cost_note(r, ours):
    """CPU per delivery, two workers (+ Redis) against one worker, at the same
    total rate and at the same rate per worker (two workers at about twice
    one worker's rate). CPU per delivery falls as a worker gets busier (the hub
    wakes up for more sockets at a time), and each of two workers runs at half
    the total rate: the second comparison is the one that says what a second
    worker costs. Steps with p99 <= 250 ms only."""
    if not ours or not r["scenario"].startswith("saturation"):
        return ""
    limit = r["spec"].get("stop_p99_ms") or 250

    def passed(result):
        return [
            p
            for p in result["phases"]
            if (p["latency_ms"]["p99"] or 1e9) <= limit and cpu_per_1k_deliveries(p)
        ]

    mine, theirs = passed(r), passed(ours)
    if not mine or not theirs:
        return ""
    by_index = {p["index"]: p for p in theirs}
    same_total = [p for p in mine if p["index"] in by_index]
    note = ", cpu ms per 1k deliveries"
    if same_total:
        two = same_total[-1]
        one = by_index[two["index"]]
        note += (
            f" at {one['deliveries_per_s']} del/s: {cpu_per_1k_deliveries(two):.1f} (two + Redis)"
            f" vs {cpu_per_1k_deliveries(one):.1f} (one)"
        )
    busiest = mine[-1]
    half = busiest["deliveries_per_s"] / 2
    one = min(theirs, key=lambda p: abs(p["deliveries_per_s"] - half))
    return note + (
        f"; per worker: two at {busiest['deliveries_per_s']} {cpu_per_1k_deliveries(busiest):.1f}"
        f" vs one at {one['deliveries_per_s']} {cpu_per_1k_deliveries(one):.1f}"
    )


def table(results):
    lines = [
        "| scenario | peer | figure | details | vs bare | vs channels |",
        "|---|---|---|---|---|---|",
    ]
    by = {(r["scenario"], r["peer"]): r for r in results}
    for r in results:
        value, unit, _better = metric(r)
        details = detail(r)
        if r["peer"] == TWO_WORKERS:
            details += two_worker_note(r, by.get((r["scenario"], "ours")))
        ratios = []
        for other in ("bare", "channels"):
            o = by.get((r["scenario"], other))
            ov = metric(o)[0] if o else None
            if r["peer"] == other or not value or not ov:
                ratios.append("")
            else:
                ratios.append(f"{value / ov:.2f}x")
        load = r.get("load")
        if load:
            details += (
                f", load {load['before'][0]} -> {load['after'][0]}, "
                f"others' cpu {load.get('others_cores')} cores"
            )
        lines.append(
            f"| {r['scenario']} | {r['peer']} | {value} {unit} | {details} | "
            f"{ratios[0]} | {ratios[1]} |"
        )
    return "\n".join(lines)


def prepare_args(nusers, nrooms, out):
    return [
        *(str(SERVER_VENV_BIN / "python"), str(BENCH / "prepare.py"), "--out", str(out)),
        *("--users", str(nusers), "--rooms", str(nrooms)),
        *("--login-users", ",".join(LOGIN_USERS), "--login-password", LOGIN_PASSWORD),
    ]


def server_env(db_url):
    """Environment of manage.py and prepare.py for the server's checkout."""
    env = {**os.environ, "DATABASE_URL": db_url, "SECRET_KEY": SECRET_KEY}
    env["BENCH_SERVER_ROOT"] = str(SERVER_ROOT)  # prepare.py imports that checkout's project
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


def prepare(nusers, nrooms, fresh):
    WORK.mkdir(exist_ok=True)
    db = WORK / "bench.sqlite3"
    sessions = WORK / "sessions.json"
    marker = WORK / "prepared.json"
    wanted = {"users": nusers, "rooms": nrooms, "login_users": len(LOGIN_USERS)}
    done = json.loads(marker.read_text()) if marker.exists() else None
    if fresh or not sessions.exists() or done != wanted:
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                (WORK / f"bench.sqlite3{suffix}").unlink()
        env = server_env(f"sqlite:///{db}")
        subprocess.run(prepare_args(nusers, nrooms, sessions), cwd=SERVER_ROOT, env=env, check=True)
        subprocess.run(
            [str(SERVER_VENV_BIN / "python"), "manage.py", "create_demo_users"],
            cwd=SERVER_ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        shutil.copy(db, WORK / "template.sqlite3")
        marker.write_text(json.dumps(wanted))
    # A template made before the checkout's newest migrations gets them now
    # (the server would fail on a missing table); migrate does nothing otherwise.
    subprocess.run(
        [str(SERVER_VENV_BIN / "python"), "manage.py", "migrate", "--noinput", "-v0"],
        cwd=SERVER_ROOT,
        env=server_env(f"sqlite:///{WORK / 'template.sqlite3'}"),
        check=True,
    )
    # The account page (the real login check) needs the manifest of static files.
    subprocess.run(
        [
            *(str(SERVER_VENV_BIN / "python"), "manage.py"),
            *("collectstatic", "--noinput", "--verbosity", "0"),
        ],
        cwd=SERVER_ROOT,
        env=server_env(f"sqlite:///{db}"),
        check=True,
    )
    return db, sessions


def prepare_external(url, nrooms, nusers=BENCH_USERS):
    """The bench data in a database given by --database-url (PostgreSQL), once."""
    key = f"{url} {nusers} {nrooms} {len(LOGIN_USERS)}"
    marker = WORK / f"sessions-{hashlib.sha1(key.encode()).hexdigest()[:12]}.json"
    if not marker.exists():
        env = server_env(url)
        python = str(SERVER_VENV_BIN / "python")
        for command in (
            [python, "manage.py", "migrate", "--verbosity", "0"],
            prepare_args(nusers, nrooms, marker),
            [python, "manage.py", "create_demo_users"],
        ):
            subprocess.run(command, cwd=SERVER_ROOT, env=env, check=True, capture_output=True)
    return marker


def run_db_stall():
    """bench/db_stall.py on a copy of the bench database, pinned like the servers."""
    copy = WORK / "dbstall.sqlite3"
    shutil.copy(WORK / "template.sqlite3", copy)
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{copy}{suffix}").unlink()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{copy}", "SECRET_KEY": SECRET_KEY}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = db_stall(env)
    print("db stall:", json.dumps(result), flush=True)
    return result


def db_stall(env):
    """bench/db_stall.py's figures on the database of ``env``, pinned like the servers."""
    out = subprocess.run(
        ["taskset", "-c", SERVER_CORE, str(VENV_BIN / "python"), str(BENCH / "db_stall.py")],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def db_table(stall):
    lines = [
        "| database work on the event loop | p50 ms | p90 ms | p99 ms | max ms |",
        "|---|---|---|---|---|",
    ]
    for key in (
        "store_message_in_handler",
        "store_message_connection_per_event",
        "store_message_connection_per_event_last_close",
        "join_admit_and_history",
    ):
        v = stall[key]
        lines.append(f"| {key} | {v['p50_ms']} | {v['p90_ms']} | {v['p99_ms']} | {v['max_ms']} |")
    lines.append(
        f"\nQueries per joiner: {stall['queries_admit']} to admit (session, user, room), "
        f"{stall['queries_history']:g} for the history."
    )
    return "\n".join(lines)


def update_readme(md):
    readme = BENCH / "README.md"
    text = readme.read_text()
    start, end = "<!-- latest:start -->", "<!-- latest:end -->"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        readme.write_text(f"{head}{start}\n{md}{end}{rest.split(end, 1)[1]}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--peers",
        default=f"ours,ours-compress,{TWO_WORKERS},bare,channels",
        help=(
            "ours-compress = our server with WS_COMPRESSION=1 (deflate scenarios only); "
            f"{TWO_WORKERS} = two workers + Redis on cores {TWO_WORKER_CORES} "
            f"({', '.join(sorted(TWO_WORKER_SCENARIOS))} only)"
        ),
    )
    parser.add_argument("--scenarios", default=DEFAULT_SCENARIOS)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--profile", action="store_true", help="py-spy the server under load")
    parser.add_argument("--fresh", action="store_true", help="rebuild the bench database")
    parser.add_argument("--label", default="latest")
    parser.add_argument(
        "--database-url",
        help="every peer on this database (e.g. postgres://...) instead of a SQLite copy; "
        "the bench users and sessions are loaded into it once",
    )
    parser.add_argument("--no-db-stall", action="store_true", help="skip bench/db_stall.py")
    parser.add_argument(
        "--template",
        help="the SQLite database each run starts from, instead of the prepared one (e.g. "
        "bench/.work/search-1m.sqlite3 of bench/search.py build: the same users and sessions)",
    )
    parser.add_argument(
        "--server-root",
        help="a checkout (e.g. a git worktree of an older commit) whose server the ours "
        "peers run, with its own .venv if it has one and its own bench database "
        "(bench/.work-<commit>); generator, peers and scenarios stay this checkout's",
    )
    args = parser.parse_args()
    global SERVER_ROOT, SERVER_VENV_BIN, WORK
    if args.server_root:
        SERVER_ROOT = Path(args.server_root).resolve()
        if (SERVER_ROOT / ".venv" / "bin" / "gunicorn").exists():
            SERVER_VENV_BIN = SERVER_ROOT / ".venv" / "bin"
        if SERVER_ROOT != ROOT:
            WORK = BENCH / f".work-{git_commit(SERVER_ROOT)}"
    load_at_start = loadavg()
    args.room_count = BENCH_ROOM_COUNT
    peers = args.peers.split(",")
    names = args.scenarios.split(",")
    db, sessions = prepare(BENCH_USERS, args.room_count, args.fresh)
    template = Path(args.template).resolve() if args.template else WORK / "template.sqlite3"
    db_url = f"sqlite:///{db}"
    if args.database_url:
        db_url, sessions = args.database_url, prepare_external(args.database_url, args.room_count)

    # The real page login works against the same database (a smoke check of the cookies).
    check = Server("ours", {}, db_url, sessions, args.room_count)
    check.start()
    try:
        real_login_cookie(check.url)
        login_check = "POST /account/login ok"
    finally:
        check.stop()

    results = []
    for name in names:
        spec = scenario_config(name, args.quick)
        for peer in peers:
            if peer == "ours-compress" and not spec.get("deflate"):
                continue  # WS_COMPRESSION=1 only matters when the client offers deflate
            if peer == "channels" and name in CHANNELS_SKIPS:
                continue
            if peer == TWO_WORKERS and name not in TWO_WORKER_SCENARIOS:
                continue
            if peer == "bare-versions" and name not in STORM_SCENARIOS:
                continue
            if peer.startswith("bare") and (name.startswith("logins") or name == "search"):
                continue  # no login page: nothing to compare
            if peer == TWO_WORKERS and not shutil.which("redis-server"):
                print(f"skip {peer}: no redis-server (scripts/ensure-system-deps installs it)")
                continue
            if peer == "channels" and not (CHANNELS_BIN / "daphne").exists():
                print("skip channels: bench/.venv-channels missing (make bench installs it)")
                continue
            shutil.copy(template, db)  # every SQLite run starts from the same database
            for suffix in ("-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    Path(f"{db}{suffix}").unlink()
            peer_spec = {**spec, **CHANNELS_SIZES.get(name, {})} if peer == "channels" else spec
            results.append(run_one(peer, name, peer_spec, sessions, db_url, args))
    stall = None if args.no_db_stall else run_db_stall()
    meta = {
        "label": args.label,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "commit": git_commit(),
        "server_root": str(SERVER_ROOT),
        "bench_commit": git_commit(ROOT),
        "load_at_start": load_at_start,
        "load_at_end": loadavg(),
        "command": " ".join(["bench/run.py", *sys.argv[1:]]),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.python_version()}",
        "node": subprocess.check_output(["node", "--version"], text=True).strip(),
        "pinning": (
            f"server core {SERVER_CORE} ({TWO_WORKERS}: cores {TWO_WORKER_CORES}, "
            f"redis-server unpinned), generator core {GENERATOR_CORE}"
        ),
        "login_check": login_check,
        "database": urllib.parse.urlsplit(db_url).scheme,
        "quick": args.quick,
    }
    RESULTS.mkdir(exist_ok=True)
    payload = {"meta": meta, "results": results, "db_stall": stall}
    text = json.dumps(payload, indent=1)
    # latest.* is the full run README.md shows; a labelled run keeps its own files.
    (RESULTS / f"{args.label}.json").write_text(text)
    md = f"Command: `{meta['command']}` ({meta['date']}, commit {meta['commit']})\n\n"
    md += table(results) + "\n"
    if stall:
        md += "\n" + db_table(stall) + "\n"
    (RESULTS / f"{args.label}.md").write_text(md)
    if args.label == "latest" and not args.quick:
        update_readme(md)
    print()
    print(md)


if __name__ == "__main__":
    main()
