"""Fixtures of the unit tests: users and a private room (the tests of private
rooms and direct messages), and the per-process admission cache forgotten
around every test."""

import pytest
from django.core.cache import caches

from chat import access, standing
from chat.models import Room
from tests.support.people import make_user


@pytest.fixture(autouse=True)
def nothing_remembered():
    """What chat.access and chat.standing keep per process, forgotten."""
    caches["admission"].clear()
    standing.forget_all()
    yield
    caches["admission"].clear()
    standing.forget_all()


@pytest.fixture
def alice(db):
    return make_user("alice")


@pytest.fixture
def bob(db):
    return make_user("bob")


@pytest.fixture
def carol(db):
    return make_user("carol")


@pytest.fixture
def team(alice, bob):
    """A private room of alice (its creator) and bob; its name is HTML."""
    return access.create_room(alice, "Team <b>", Room.Kind.PRIVATE, [bob])
