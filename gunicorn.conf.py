"""gunicorn settings, read automatically when gunicorn starts in this folder.

Command-line flags still win (``gunicorn -k eventlet -w 1 -b ... sio_server:app``).
"""

import os
import sys
from pathlib import Path

# The hook below must see the REDIS_URL the app will see, and the app also
# reads the local .env (d09/settings.py): read it here too, real variables first.
ROOT = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from d09.env import load_dotenv  # noqa: E402

load_dotenv(ROOT / ".env")

worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "eventlet")
workers = int(os.environ.get("WEB_WORKERS", "1"))
# Each WebSocket holds one slot of its worker for its whole life; gunicorn's
# default of 1000 would cap a chat at 1000 users per worker.
worker_connections = int(os.environ.get("WORKER_CONNECTIONS", "10000"))
# On SIGTERM the worker says goodbye to its sessions and closes them within
# DEPLOY_SETTLE_SECONDS (d09/runtime/drain.py); this is the bound on the whole
# stop, well under a host's SIGKILL (Heroku: 30 s).
graceful_timeout = int(os.environ.get("GRACEFUL_TIMEOUT", "10"))
accesslog = os.environ.get("ACCESS_LOG") or None


def on_starting(server):
    """Refuse to split the chat silently: several workers need a shared manager."""
    if server.cfg.workers > 1 and not os.environ.get("REDIS_URL", "").strip():
        sys.stderr.write(
            f"d09: {server.cfg.workers} workers but REDIS_URL is not set. Each worker "
            "would hold its own rooms and users would not see each other. Set "
            "REDIS_URL (see docs/deploy.md, 'Run several workers locally') or use -w 1.\n"
        )
        sys.exit(1)


def post_worker_init(worker):
    """Fit the pool under the descriptor limit and cap chat sessions below it, so
    that a reconnect storm is admitted at the worker's pace and pages are still
    served (d09/runtime/capacity.py); make SIGTERM a goodbye that spreads the
    sessions' return (d09/runtime/drain.py)."""
    from d09.runtime.capacity import fit_worker
    from d09.runtime.drain import drain_on_sigterm

    fit_worker(worker)
    drain_on_sigterm(worker)


def worker_exit(server, worker):
    """A stopping worker retires from the shared presence, so that the other
    processes remove its users at their next reap instead of after PRESENCE_TTL."""
    app = sys.modules.get("sio_server")
    if app is None:
        return
    try:
        app.backend.presence.retire()
    except Exception as error:  # Redis gone too: the TTL will do it
        server.log.warning("could not retire from the presence: %s", error)
