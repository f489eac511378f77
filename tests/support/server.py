"""Starting the real server in a subprocess, and logging in over HTTP."""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
DEMO_PASSWORD = "chat-demo-2024"
LOG_DIR = Path(tempfile.gettempdir()) / "d09-test-logs"
# Tests send and connect far faster than people: every test server gets these
# unless a test sets its own (the limits have tests on servers with low values).
RELAXED_LIMITS = {
    "MESSAGE_RATE_BURST": "100000",
    "CONNECT_RATE_BURST": "100000",
    "ADDRESS_RATE_BURST": "100000",
    "FRAME_RATE_BURST": "100000",
    "TYPING_RATE_BURST": "100000",
    "HISTORY_RATE_BURST": "100000",
    "HISTORY_WORKER_BURST": "100000",
    "ATTACHMENTS_PER_MINUTE": "100000",
}


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition, timeout=10.0, interval=0.05, message="condition"):
    """Poll ``condition`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


class LiveServer:
    """gunicorn -k eventlet serving sio_server:app, with its own database."""

    def __init__(self, extra_env, port=None, workers=1, worker_class="eventlet", log_name=None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.worker_class = worker_class
        self.env = {**os.environ, **RELAXED_LIMITS, **extra_env}
        self.env.pop("DJANGO_SETTINGS_MODULE", None)
        self.process = None
        # Logs outlive the test session's temporary folders, for post-mortems.
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.log_path = LOG_DIR / (log_name or f"server-{self.port}.log")

    def manage(self, *args):
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    def create_room(self, name, slug):
        """Add a room to the server's database, as an admin would."""
        self.manage(
            "shell",
            "-c",
            "from chat.models import Room; "
            f"Room.objects.get_or_create(slug={slug!r}, defaults={{'name': {name!r}}})",
        )
        return slug

    def create_users(self, usernames, password):
        """Add users to the server's database (idempotent)."""
        self.manage(
            "shell",
            "-c",
            "from django.contrib.auth import get_user_model; U = get_user_model()\n"
            f"for name in {list(usernames)!r}:\n"
            "    U.objects.filter(username=name).exists() or "
            f"U.objects.create_user(username=name, password={password!r})",
        )

    def create_sessions(self, usernames):
        """Users (made if missing, with no usable password) each logged in through
        a session written as ``django.contrib.auth.login`` writes it, without
        hashing a password per user; the Cookie header of each, by name."""
        script = f"""
import json
from importlib import import_module
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth import get_user_model
store = import_module(settings.SESSION_ENGINE).SessionStore
cookies = {{}}
for name in {list(usernames)!r}:
    user, made = get_user_model().objects.get_or_create(username=name)
    if made:
        user.set_unusable_password()
        user.save()
    session = store()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    cookies[name] = settings.SESSION_COOKIE_NAME + "=" + session.session_key
print(json.dumps(cookies))
"""
        return json.loads(self.manage("shell", "-c", script).strip().splitlines()[-1])

    def db_file_handles(self):
        """How many file descriptors the workers hold on the SQLite database file."""
        db_path = self.env["DATABASE_URL"].split("sqlite:///", 1)[1]
        count = 0
        for pid in self.worker_pids():
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    if os.readlink(fd) == db_path:
                        count += 1
                except OSError:
                    continue
        return count

    def prepare(self):
        # Static files are collected once per test run (collect_static), not here.
        self.manage("migrate", "--noinput")
        self.manage("create_demo_users")

    def command(self):
        if self.worker_class == "direct":  # python sio_server.py: eventlet's own server
            return [sys.executable, "sio_server.py"]
        return [
            str(VENV_BIN / "gunicorn"),
            "-k",
            self.worker_class,
            "-w",
            str(self.workers),
            "-b",
            f"127.0.0.1:{self.port}",
            "sio_server:app",
        ]

    def start(self):
        self.log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop())
        env = {**self.env, "PORT": str(self.port), "HOST": "127.0.0.1"}
        self.process = subprocess.Popen(
            self.command(), cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )
        wait_until(self._answers, timeout=20, message=f"server on port {self.port}")

    def _answers(self):
        if self.process.poll() is not None:
            raise AssertionError(f"server exited with {self.process.returncode}: {self.tail()}")
        try:
            return requests.get(self.url + "/account", timeout=1).status_code == 200
        except (requests.ConnectionError, requests.Timeout):
            # A worker still booting on a busy machine may not answer within 1 s.
            return False

    def stop(self, sig=signal.SIGINT):
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process:
            self.log.close()

    def restart(self):
        self.stop()
        self.start()

    def worker_pids(self):
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def tail(self, lines=40):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


def collect_static():
    """``collectstatic`` into the project's STATIC_ROOT, which every test server
    serves (DEBUG off: hashed names). Once per test run, before any server
    starts: collectstatic deletes and rewrites the files it post-processes, so
    a server starting (or serving) meanwhile, in another pytest-xdist process,
    found files missing."""
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env={**os.environ, "DEBUG": "0"},
        check=True,
        capture_output=True,
        text=True,
    )


def start_server(env, log_dir, name, prepare=False, server_class=LiveServer, **options):
    """A LiveServer of the deployment ``env`` (``options``: workers, worker_class);
    its log goes to ``log_dir`` next to the deployment's other files."""
    server = server_class(extra_env=env, **options)
    server.log_path = log_dir / f"{name}-{server.port}.log"
    if prepare:
        server.prepare()
    server.start()
    return server


class ServerFactory:
    """Servers of a test's (or a module's) own: ``start(**env)`` gives a server
    on a new SQLite database of its own with ``env`` on top of ``base_env``."""

    def __init__(self, base_env, folder):
        # Not the session server's Redis: rooms of the same name would mix.
        self.base_env = {k: v for k, v in base_env.items() if k != "REDIS_URL"}
        self.folder = folder
        self.started = []

    def start(self, server_class=LiveServer, worker_class="eventlet", workers=1, **env):
        name = f"own-{len(self.started)}"
        database = {
            "DATABASE_URL": f"sqlite:///{self.folder / name}.sqlite3",
            # Its own files too: user ids of two databases are the same numbers.
            "MEDIA_ROOT": str(self.folder / f"{name}-media"),
        }
        live = start_server(
            {**self.base_env, **database, **env},
            LOG_DIR,
            name,
            prepare=True,
            server_class=server_class,
            worker_class=worker_class,
            workers=workers,
        )
        self.started.append(live)
        return live

    def stop_all(self):
        for live in self.started:
            live.stop()


@dataclass
class LoggedIn:
    """An HTTP session logged in as ``username``; ``cookie`` is its Cookie header."""

    username: str
    session: requests.Session
    base_url: str

    @property
    def cookie(self):
        return "; ".join(f"{name}={value}" for name, value in self.session.cookies.items())

    @property
    def headers(self):
        return {"Cookie": self.cookie}


def csrf_post(session, base_url, path, data):
    """POST like the page does: CSRF token from the cookie, same-origin Referer."""
    if "csrftoken" not in session.cookies:
        session.get(base_url + "/account", timeout=5)
    return session.post(
        base_url + path,
        data=data,
        headers={"X-CSRFToken": session.cookies["csrftoken"], "Referer": base_url + "/account"},
        timeout=5,
    )


def login(base_url, username, password):
    session = requests.Session()
    answer = csrf_post(
        session, base_url, "/account/login", {"username": username, "password": password}
    )
    assert answer.status_code == 200, answer.text
    return LoggedIn(username=username, session=session, base_url=base_url)
