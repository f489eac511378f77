"""Tests that drive headless Chromium against the real server."""
