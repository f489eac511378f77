"""Fixtures and hooks of the browser tests."""

import pytest

# A failing browser test shows each browser's console in its report.
from tests.support.browser_console import pytest_runtest_makereport  # noqa: F401
from tests.support.server import DEMO_PASSWORD, login


@pytest.fixture
def carol_talks(server, clients, fresh_room):
    """carol in ``fresh_room`` through a Socket.IO client: ``carol_talks.send(text)``
    is quicker than typing in a browser."""
    return clients.open(login(server.url, "carol", DEMO_PASSWORD), fresh_room)
