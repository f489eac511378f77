"""Django settings for d09.

Every deploy-time value comes from the environment (see README, "Environment
variables"). A local ``.env`` file (written by ``make run``/``make setup``, never
committed) is read first so a plain ``gunicorn`` started by hand after setup gets
the same values; real environment variables always win over it.
"""

from pathlib import Path

import dj_database_url
import xstatic.pkg.jquery
from django.core.exceptions import ImproperlyConfigured

from d09.client_address import parse_trusted_proxies
from d09.env import env_bool, env_int, env_list, env_str, load_dotenv

BASE_DIR = Path(__file__).resolve().parent.parent

load_dotenv(BASE_DIR / ".env")

DEBUG = env_bool("DEBUG")

# A fixed key is handy in development but would let anyone forge sessions in
# production, so it is only accepted while DEBUG is on.
_DEV_SECRET_KEY = "django-insecure-d09-development-only-key-do-not-use-in-production"
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set and DEBUG is off. Export SECRET_KEY (a long random "
            "string), or run `make setup` which writes one to .env, or set DEBUG=1 for "
            "development."
        )
    SECRET_KEY = _DEV_SECRET_KEY

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", default="127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "account",
    "chat",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "d09.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "d09.middleware.HashingBusyMiddleware",
]

ROOT_URLCONF = "d09.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "d09.wsgi.application"


def _database_config():
    url = env_str("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
    config = dj_database_url.parse(url, conn_max_age=0)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # Several green threads (and processes) write concurrently: WAL lets readers
        # run beside the writer, IMMEDIATE takes the write lock up front so a
        # transaction never fails half-way, and the timeout waits out short locks.
        config["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": env_int("SQLITE_TIMEOUT", 5),
        }
    return config


DATABASES = {"default": _database_config()}

# Django's hashers, with the hashlib ones computing off the event loop (d09/hashers.py):
# a PBKDF2 hash takes about 0.3 s of CPU, during which no other client of an
# eventlet/gevent worker would be served. Same algorithm names, so stored hashes
# stay valid both ways.
PASSWORD_HASHERS = [
    "d09.hashers.PBKDF2PasswordHasher",
    "d09.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "d09.hashers.ScryptPasswordHasher",
]
# At most this many password hashes per worker at once, running or waiting for a
# thread (login, signup, password change); the next request gets 503 with
# Retry-After instead of a queue that only grows (a hash is ~0.3 s of a core).
# 0: no limit.
HASHES_IN_FLIGHT = env_int("HASHES_IN_FLIGHT", 50)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Served by the app itself (no CDN: the site must work offline): jQuery from its
# pinned XStatic wheel, Bootstrap's release CSS from d09/static/vendor/bootstrap
# (scripts/vendor-bootstrap says why and how to update it).
STATICFILES_DIRS = [
    BASE_DIR / "d09" / "static",
    ("vendor/jquery", xstatic.pkg.jquery.BASE_DIR),
]
# Attachments (chat/attachments/) are kept through Django's storage API: files
# under MEDIA_ROOT by default, or an S3-compatible store when a bucket is named
# (a Procfile host's disk is thrown away at each deploy: docs/deploy.md). They
# are never served from MEDIA_URL: only chat.attachments.views hands them out.
MEDIA_ROOT = Path(env_str("MEDIA_ROOT") or BASE_DIR / "media")
AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME")


def _default_storage():
    if not AWS_STORAGE_BUCKET_NAME:
        return {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    # django-storages; credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
    # (or whatever else boto3 finds: an instance role).
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": env_str("AWS_S3_ENDPOINT_URL") or None,
            "region_name": env_str("AWS_S3_REGION_NAME") or None,
            "access_key": env_str("AWS_ACCESS_KEY_ID") or None,
            "secret_key": env_str("AWS_SECRET_ACCESS_KEY") or None,
            "default_acl": "private",
            "file_overwrite": False,
            "querystring_auth": True,
        },
    }


STORAGES = {
    "default": _default_storage(),
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOGIN_URL = "account:page"
CSRF_FAILURE_VIEW = "account.views.csrf_failure"

# Proxies whose X-Forwarded-For is believed (d09/client_address.py): comma-separated
# addresses or networks, or "*" for any peer. The variable is the one gunicorn reads
# for X-Forwarded-Proto, but the default here is to trust nobody (gunicorn's own
# default trusts 127.0.0.1).
try:
    FORWARDED_ALLOW_IPS = parse_trusted_proxies(env_str("FORWARDED_ALLOW_IPS"))
except ValueError as error:
    raise ImproperlyConfigured(f"FORWARDED_ALLOW_IPS: {error}") from error

# Login and signup throttles (account/throttle.py), counted in the database so that
# every worker and host sees the same counts. 0 turns a limit off.
LOGIN_FAILURES_PER_USERNAME = env_int("LOGIN_FAILURES_PER_USERNAME", 5)
LOGIN_FAILURES_PER_ADDRESS = env_int("LOGIN_FAILURES_PER_ADDRESS", 20)
LOGIN_FAILURE_WINDOW = env_int("LOGIN_FAILURE_WINDOW", 15 * 60)
SIGNUPS_PER_ADDRESS = env_int("SIGNUPS_PER_ADDRESS", 20)
SIGNUP_WINDOW = env_int("SIGNUP_WINDOW", 60 * 60)

# Security. HTTPS=1 says the site is reached over TLS (usually through a
# terminating proxy that sets X-Forwarded-Proto), which turns on secure cookies,
# the redirect to https and HSTS. Plain local http keeps them off so that
# `make run` works at http://127.0.0.1:8000.
HTTPS = env_bool("HTTPS")
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# d09.middleware.ContentSecurityPolicyMiddleware; empty turns the header off.
CONTENT_SECURITY_POLICY = env_str(
    "CONTENT_SECURITY_POLICY",
    # Only our own files may run or style the page: no inline script anywhere, so
    # even a missed escape could not execute. 'self' covers ws:/wss: to this host.
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'",
)
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 30)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD")
    if not SECURE_HSTS_PRELOAD:
        # Preloading is a commitment of the domain's owner, not a default we can
        # make for every deployer: opt in with SECURE_HSTS_PRELOAD=1.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # Per process: what a chat connection needs of its session, user and room,
    # so that a join costs its history query alone (chat/connection.py).
    "admission": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "chat-admission",
        "OPTIONS": {"MAX_ENTRIES": 100_000},
    },
}

# The chat's real-time side (README, "Environment variables"). Every value the
# server reads from the environment is read here, once, into a named setting.

# Shared state between processes: unset = one process, everything in memory.
REDIS_URL = env_str("REDIS_URL")
# With Redis: seconds without a heartbeat after which a process counts as dead.
PRESENCE_TTL = env_int("PRESENCE_TTL", 15)

# Engine.IO / Socket.IO (seconds, bytes). The server pings every interval and
# drops a client that does not answer within the timeout.
SIO_ASYNC_MODE = env_str("SIO_ASYNC_MODE")  # empty: what the worker patched
SIO_PING_INTERVAL = env_int("SIO_PING_INTERVAL", 10)
SIO_PING_TIMEOUT = env_int("SIO_PING_TIMEOUT", 10)
SIO_MAX_PAYLOAD = env_int("SIO_MAX_PAYLOAD", 64 * 1024)
# Long-polling needs sticky sessions, so with several processes (Redis) the
# default is WebSocket only; the page uses nothing else.
SIO_TRANSPORTS = env_list(
    "SIO_TRANSPORTS", default="websocket" if REDIS_URL else "websocket,polling"
)
SIO_CONNECT_TIMEOUT = env_int("SIO_CONNECT_TIMEOUT", 10)
# Bytes a connection may have waiting to be written (a client that does not
# read); when more comes, it is closed and reconnects (d09/runtime/send_bound.py).
# Well above the biggest answer (100 messages of scroll-back: about 0.2 MB, at
# worst 2.4 MB of JSON-escaped emoji), so a page that reads is never closed;
# one packet bigger than this still goes to a connection with less waiting.
# 0: no bound (python-engineio's own, unbounded queue).
SIO_MAX_QUEUED_BYTES = env_int("SIO_MAX_QUEUED_BYTES", 4 * 1024 * 1024)
# At most this many new chat sessions on their way into a room at once (each
# join costs the loop a few ms); the next ones wait, up to JOIN_WAIT seconds,
# then get 503. 0: no such limit.
JOINS_IN_FLIGHT = env_int("JOINS_IN_FLIGHT", 100)
JOIN_WAIT = env_int("JOIN_WAIT", 10)
WS_COMPRESSION = env_bool("WS_COMPRESSION")
# A stopping worker (SIGTERM: a deploy) tells each session when to come back:
# delays spread evenly over sessions / DEPLOY_RETURN_RATE seconds (about what
# a new worker admits per second), at most DEPLOY_SPREAD_MAX, from when a new
# process can be up; events being handled get DEPLOY_SETTLE_SECONDS to be
# answered (d09/runtime/drain.py). The host's SIGKILL (Heroku: 30 s) bounds the
# old process's exit, not the spread: the returns go to the new process.
DEPLOY_RETURN_RATE = env_int("DEPLOY_RETURN_RATE", 250)
DEPLOY_SPREAD_MAX = env_int("DEPLOY_SPREAD_MAX", 60)
DEPLOY_SETTLE_SECONDS = env_int("DEPLOY_SETTLE_SECONDS", 3)

# Flood control (token buckets): a burst, then a steady rate. 0 turns one off.
# Messages and chat connections are counted per user; per client address only
# what no user answers for (sessions that never join a room, connections that
# are not logged in), so that an office behind one NAT is not one bucket.
MESSAGE_RATE_BURST = env_int("MESSAGE_RATE_BURST", 10)
MESSAGE_RATE_PER_MINUTE = env_int("MESSAGE_RATE_PER_MINUTE", 120)
CONNECT_RATE_BURST = env_int("CONNECT_RATE_BURST", 30)
CONNECT_RATE_PER_MINUTE = env_int("CONNECT_RATE_PER_MINUTE", 120)
ADDRESS_RATE_BURST = env_int("ADDRESS_RATE_BURST", 30)
ADDRESS_RATE_PER_MINUTE = env_int("ADDRESS_RATE_PER_MINUTE", 120)
# Engine.IO sessions of one address open at once before they log in to a room.
PENDING_SESSIONS_PER_ADDRESS = env_int("PENDING_SESSIONS_PER_ADDRESS", 500)
TYPING_RATE_BURST = env_int("TYPING_RATE_BURST", 5)
# Requests whose answers cost the server (scroll-back with ``older``, the user
# list with ``users``), per user over all their connections.
HISTORY_RATE_BURST = env_int("HISTORY_RATE_BURST", 20)
HISTORY_RATE_PER_MINUTE = env_int("HISTORY_RATE_PER_MINUTE", 60)
# The same requests of all users of one worker together (a page of scroll-back
# costs the event loop about 5 ms): a hundred users at their own budget would
# still stall everyone's broadcasts.
HISTORY_WORKER_BURST = env_int("HISTORY_WORKER_BURST", 10)
HISTORY_WORKER_PER_SECOND = env_int("HISTORY_WORKER_PER_SECOND", 50)
# One token of that budget is an answer of up to this many bytes; a heavier one
# (100 lines of 2,000 characters: 210 KB) is charged its weight, so that the
# budget bounds the work, not the count of answers.
HISTORY_WORKER_TOKEN_BYTES = env_int("HISTORY_WORKER_TOKEN_BYTES", 20_000)
# Searches (/chat/search/), per user: a burst, then a steady rate; and per worker,
# how many may run at once (each holds a thread of the pool on SQLite: the
# password hashes need some too); over it a search is answered 503 at once.
SEARCH_RATE_BURST = env_int("SEARCH_RATE_BURST", 10)
SEARCH_RATE_PER_MINUTE = env_int("SEARCH_RATE_PER_MINUTE", 30)
SEARCHES_IN_FLIGHT = env_int("SEARCHES_IN_FLIGHT", 4)
# Minutes during which the author may edit a message.
MESSAGE_EDIT_MINUTES = env_int("MESSAGE_EDIT_MINUTES", 15)
# Every frame a connection sends (valid or not, known event or not) spends one
# of its tokens; a connection that runs out is closed.
FRAME_RATE_BURST = env_int("FRAME_RATE_BURST", 200)
FRAME_RATE_PER_SECOND = env_int("FRAME_RATE_PER_SECOND", 50)

# Attachments (chat/attachments/, README "Attachments"). Sizes in bytes.
ATTACHMENT_MAX_BYTES = env_int("ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024)
# Types accepted, as found in the bytes (never as the client says). Images of
# these types are shown inline; everything else is only ever a download.
ATTACHMENT_TYPES = env_list(
    "ATTACHMENT_TYPES",
    default="image/png,image/jpeg,image/gif,image/webp,application/pdf,text/plain,application/zip",
)
# New uploads per user per minute (a burst of as many, then that rate). 0: no limit.
ATTACHMENTS_PER_MINUTE = env_int("ATTACHMENTS_PER_MINUTE", 10)
# Bytes of attachments a user may have stored (deleted messages' files do not count).
ATTACHMENT_QUOTA_BYTES = env_int("ATTACHMENT_QUOTA_BYTES", 200 * 1024 * 1024)
# Unfinished uploads a user may have at once, and how long one is kept after
# its last chunk (then its part is deleted).
ATTACHMENT_PENDING_PER_USER = env_int("ATTACHMENT_PENDING_PER_USER", 5)
ATTACHMENT_PENDING_SECONDS = env_int("ATTACHMENT_PENDING_SECONDS", 600)
# Where unfinished uploads are kept (local disk of the worker's host).
ATTACHMENT_PARTS_DIR = Path(env_str("ATTACHMENT_PARTS_DIR") or MEDIA_ROOT / "parts")
# Images over this many pixels are refused (decompression bombs).
ATTACHMENT_MAX_PIXELS = env_int("ATTACHMENT_MAX_PIXELS", 40_000_000)

# Presence notices of a busy room are gathered for this long (ms) and sent as
# one event; a quiet room hears each at once. 0: every notice at once.
PRESENCE_BATCH_MS = env_int("PRESENCE_BATCH_MS", 200)
# While the process tells more than PRESENCE_STORM_CHANGES presence changes a
# second (all rooms together: a restart's reconnect storm, a wave of arrivals),
# every room gathers them for PRESENCE_STORM_BATCH_MS instead.
PRESENCE_STORM_CHANGES = env_int("PRESENCE_STORM_CHANGES", 50)
PRESENCE_STORM_BATCH_MS = env_int("PRESENCE_STORM_BATCH_MS", 1500)
# Seconds a change of a room waits for the room's lock before it is refused.
ROOM_LOCK_WAIT = env_int("ROOM_LOCK_WAIT", 5)
# How often each worker re-checks the Django sessions of its chat connections.
SESSION_RECHECK_SECONDS = env_int("SESSION_RECHECK_SECONDS", 30)
# How stale a user's standing (active, staff) may be in a worker: admission reads
# it at most this long ago, and the users connected to a worker are read again
# this often, so a deactivation made anywhere (even in plain SQL) ends their open
# connections within about this long (chat/standing.py). Staff actions always
# read it at once.
# Who may create rooms from /chat/: "everyone" (any logged-in user) or "staff".
ROOM_CREATION = env_str("ROOM_CREATION", "everyone").strip().lower()
if ROOM_CREATION not in ("everyone", "staff"):
    raise ImproperlyConfigured('ROOM_CREATION must be "everyone" or "staff".')
PERMISSION_RECHECK_SECONDS = max(1, env_int("PERMISSION_RECHECK_SECONDS", 1))

# Database connections lent to event handlers (d09/runtime/event_db.py).
EVENT_DB_IDLE_CONNECTIONS = env_int("EVENT_DB_IDLE_CONNECTIONS", 8)
EVENT_DB_CHECK_IDLE_SECONDS = env_int("EVENT_DB_CHECK_IDLE_SECONDS", 10)

# The worker's garbage collector (d09/runtime/gc_tuning.py): three thresholds
# "gen0,gen1,gen2" (empty: ours), and the pause logged as slow, in ms.
GC_THRESHOLD = env_str("GC_THRESHOLD")
GC_SLOW_MS = env_int("GC_SLOW_MS", 100)

# ``python sio_server.py`` (eventlet's own server) listens here.
SERVE_HOST = env_str("HOST", "127.0.0.1")
SERVE_PORT = env_int("PORT", 8000)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # python-engineio logs every bad frame/origin once at ERROR; keep them.
        "engineio.server": {"level": "WARNING"},
        "socketio.server": {"level": "WARNING"},
    },
}

# Web Push (chat/notify/push.py): the server's VAPID key pair, base64url as
# browsers take them (the public key: an uncompressed P-256 point; the private
# key: its 32 bytes). Without both, push is off and the page says so. `make run`
# writes a pair into .env (scripts/ensure-vapid-keys).
VAPID_PUBLIC_KEY = env_str("VAPID_PUBLIC_KEY")
VAPID_PRIVATE_KEY = env_str("VAPID_PRIVATE_KEY")
VAPID_SUBJECT = env_str("VAPID_SUBJECT", "mailto:admin@localhost")
# Pushes in flight at once per worker, seconds each may wait for the push
# service (per socket operation), and pushes waiting for a free sender (more
# are dropped and logged: a dead push service must not grow memory).
PUSH_CONCURRENCY = max(1, env_int("PUSH_CONCURRENCY", 10))
PUSH_TIMEOUT = max(1, env_int("PUSH_TIMEOUT", 10))
PUSH_QUEUE = max(1, env_int("PUSH_QUEUE", 1000))
# Devices (push subscriptions) one user may have.
PUSH_DEVICES_PER_USER = env_int("PUSH_DEVICES_PER_USER", 10)
# Accept push endpoints over plain http (a push service on loopback, in tests);
# real push services are https only.
PUSH_INSECURE_ENDPOINTS = env_bool("PUSH_INSECURE_ENDPOINTS", False)
