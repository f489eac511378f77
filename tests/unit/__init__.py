"""Tests that run without a server process (real Redis or PostgreSQL allowed)."""
