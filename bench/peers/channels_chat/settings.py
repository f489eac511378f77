"""Settings of the Channels peer: the d09 chat as a Django user would write it on
Django Channels (daphne, in-memory channel layer), sharing d09's database and
SECRET_KEY so the bench's session cookies log in here too."""

import os

import dj_database_url

SECRET_KEY = os.environ["SECRET_KEY"]
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "channels",
    "chat",  # d09's own models and message rules (PYTHONPATH holds the repository)
]
ROOT_URLCONF = "channels_chat.urls"
ASGI_APPLICATION = "channels_chat.asgi.application"
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=0)}
DATABASES["default"]["OPTIONS"] = {
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    "transaction_mode": "IMMEDIATE",
    "timeout": 5,
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
LOGGING = {"version": 1, "root": {"level": "WARNING"}}
