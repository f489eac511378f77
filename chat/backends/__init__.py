"""Where the chat keeps what its processes share, chosen by REDIS_URL the way
Django chooses a cache backend: ``chat.backends.memory`` when it is unset (one
process), ``chat.backends.redis`` when it is set (any number of processes).

Both build a ``Backend``; what its parts promise is in chat/backends/base.py.
"""

from importlib import import_module

from django.conf import settings

from chat.backends.base import Backend

__all__ = ["Backend", "backend_name", "load_backend"]


def backend_name(redis_url):
    return "chat.backends.redis" if redis_url else "chat.backends.memory"


def load_backend(config=settings):
    """The backend the settings ask for (``REDIS_URL``, ``PRESENCE_TTL``,
    ``ROOM_LOCK_WAIT``); ``config`` is anything with those attributes."""
    return import_module(backend_name(config.REDIS_URL)).create(config)
