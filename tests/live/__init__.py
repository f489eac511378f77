"""Tests that talk to the real server started as users start it (gunicorn, eventlet)."""
