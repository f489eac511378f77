"""Real Redis and PostgreSQL servers for the tests, on loopback and free ports.

Started by the tests themselves (Debian's redis-server and PostgreSQL, see
scripts/ensure-system-deps), each in a temporary folder removed at the end.
PostgreSQL refuses to run as root: as root it runs as the ``postgres`` user.

Fixtures (a pytest plugin, loaded by tests/conftest.py):

- ``redis_service``: one redis-server for the session; ``redis_service.fresh()``
  is a client of an emptied database of it.
- ``postgres_service``: one PostgreSQL for the session; ``new_database()`` gives
  the URL of an empty database.
- ``own_redis``: a redis-server of the test's own, to stop, restart or pause.
- ``s3_service``: an S3-compatible server (moto's server mode, from
  requirements-dev.txt) for the session; ``new_bucket()`` gives the
  environment of a server that keeps its files in a new, empty bucket.
"""

import glob
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import psycopg2
import pytest
import redis

from tests.support.server import free_port, wait_until


def _stop(process, sig=signal.SIGTERM, timeout=20):
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class RedisService:
    def __init__(self):
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="d09-redis-"))
        self.process = None
        self._next_db = 0

    def url(self, db=0):
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self):
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.log = open(self.dir / "redis.log", "ab")  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(
            # No persistence: every test run starts empty.
            [
                binary,
                *("--bind", "127.0.0.1", "--port", str(self.port)),
                *("--save", "", "--appendonly", "no"),
                *("--dir", str(self.dir), "--databases", "64"),
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_until(self._answers, timeout=20, message=f"redis-server on port {self.port}")
        return self

    def _answers(self):
        if self.process.poll() is not None:
            raise AssertionError(f"redis-server exited: {(self.dir / 'redis.log').read_text()}")
        try:
            return redis.Redis(port=self.port, socket_timeout=1).ping()
        except redis.ConnectionError:
            return False

    def fresh_url(self):
        """The URL of a database of its own (64 of them), emptied first."""
        self._next_db = (self._next_db + 1) % 64
        redis.Redis.from_url(self.url(self._next_db)).flushdb()
        return self.url(self._next_db)

    def fresh(self):
        return redis.Redis.from_url(self.fresh_url())

    def restart(self):
        """Stop and start redis-server on the same port; it comes back empty."""
        _stop(self.process)
        self.log.close()
        self.start()

    def down(self):
        """Stop redis-server (until ``start()``): clients get connection errors."""
        _stop(self.process)
        self.log.close()

    def pause(self, seconds):
        """Keep every client of this Redis waiting for ``seconds`` (its data kept):
        past their socket timeout, they fail as with a network outage."""
        redis.Redis(port=self.port).execute_command("CLIENT", "PAUSE", int(seconds * 1000), "ALL")

    def stop(self):
        if self.process:
            _stop(self.process)
            if not self.log.closed:
                self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def _postgres_bin():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=_version)
    if not found:
        raise RuntimeError("PostgreSQL is not installed (run scripts/ensure-system-deps)")
    return Path(found[-1]).parent


def _version(path):
    return int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0


class PostgresService:
    """A throwaway PostgreSQL cluster; superuser ``d09``, no password (trust)."""

    def __init__(self):
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="d09-postgres-"))
        self.data = self.dir / "data"
        self.process = None
        # PostgreSQL will not run as root; as root, run it as "postgres".
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)

    def _run_as(self):
        return {"user": self.user, "group": pwd.getpwnam(self.user).pw_gid} if self.user else {}

    def start(self):
        bin_dir = _postgres_bin()
        subprocess.run(
            [
                bin_dir / "initdb",
                *("-D", self.data, "-U", "d09", "--auth=trust"),
                *("--encoding=UTF8", "--locale=C", "--no-sync"),
            ],
            check=True,
            capture_output=True,
            cwd=self.dir,
            **self._run_as(),
        )
        self.log = open(self.dir / "postgres.log", "ab")  # noqa: SIM115 (closed in stop())
        if self.user:
            os.chown(self.dir / "postgres.log", *self._ids())
        self.process = subprocess.Popen(
            [
                bin_dir / "postgres",
                *("-D", self.data, "-h", "127.0.0.1", "-p", str(self.port)),
                # The socket folder is ours; durability is not needed for tests.
                *("-k", str(self.dir), "-c", "fsync=off", "-c", "synchronous_commit=off"),
                *("-c", "full_page_writes=off", "-c", "max_connections=200"),
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=self.dir,
            **self._run_as(),
        )
        wait_until(self._answers, timeout=30, message=f"PostgreSQL on port {self.port}")
        return self

    def _ids(self):
        entry = pwd.getpwnam(self.user)
        return entry.pw_uid, entry.pw_gid

    def _answers(self):
        if self.process.poll() is not None:
            raise AssertionError(f"postgres exited: {(self.dir / 'postgres.log').read_text()}")
        try:
            self.connect("postgres").close()
            return True
        except psycopg2.OperationalError:
            return False

    def url(self, database):
        return f"postgres://d09@127.0.0.1:{self.port}/{database}"

    def connect(self, database):
        connection = psycopg2.connect(self.url(database), connect_timeout=2)
        connection.autocommit = True
        return connection

    def new_database(self):
        name = "d09_" + uuid.uuid4().hex[:12]
        self.execute("postgres", f'CREATE DATABASE "{name}"')
        return self.url(name)

    def execute(self, database, sql, params=None):
        """Run one statement in autocommit mode (psycopg2's ``with`` would open
        a transaction, where CREATE DATABASE is refused)."""
        connection = self.connect(database)
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
        finally:
            connection.close()

    def stop(self):
        if self.process:
            # SIGINT: PostgreSQL's "fast" shutdown (disconnects clients).
            _stop(self.process, signal.SIGINT)
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class S3Service:
    """``moto_server`` on loopback: S3 spoken over HTTP, buckets in its memory."""

    REGION = "us-east-1"
    KEY, SECRET = "test-access-key", "test-secret-key"  # moto takes any

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.dir = Path(tempfile.mkdtemp(prefix="d09-s3-"))
        self.process = None

    def start(self):
        self.log = open(self.dir / "moto.log", "ab")  # noqa: SIM115 (closed in stop())
        binary = str(Path(sys.executable).parent / "moto_server")
        self.process = subprocess.Popen(
            [binary, "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_until(self._answers, timeout=30, message=f"moto_server on port {self.port}")
        return self

    def _answers(self):
        if self.process.poll() is not None:
            raise AssertionError(f"moto_server exited: {(self.dir / 'moto.log').read_text()}")
        try:
            self.client().list_buckets()
            return True
        except Exception:
            return False

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name=self.REGION,
            aws_access_key_id=self.KEY,
            aws_secret_access_key=self.SECRET,
        )

    def new_bucket(self):
        """The settings' environment of a new empty bucket (README: S3)."""
        name = "d09-" + uuid.uuid4().hex[:12]
        self.client().create_bucket(Bucket=name)
        return {
            "AWS_STORAGE_BUCKET_NAME": name,
            "AWS_S3_ENDPOINT_URL": self.url,
            "AWS_S3_REGION_NAME": self.REGION,
            "AWS_ACCESS_KEY_ID": self.KEY,
            "AWS_SECRET_ACCESS_KEY": self.SECRET,
        }

    def keys(self, bucket, prefix=""):
        answer = self.client().list_objects_v2(Bucket=bucket, Prefix=prefix)
        return sorted(item["Key"] for item in answer.get("Contents", []))

    def stop(self):
        if self.process is not None:
            _stop(self.process)
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def s3_service():
    service = S3Service().start()
    yield service
    service.stop()


@pytest.fixture(scope="session")
def redis_service():
    service = RedisService().start()
    yield service
    service.stop()


@pytest.fixture(scope="session")
def postgres_service():
    service = PostgresService().start()
    yield service
    service.stop()


@pytest.fixture
def own_redis():
    service = RedisService().start()
    yield service
    service.stop()
