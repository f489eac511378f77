"""Users made in the test database, for unit tests."""

from django.contrib.auth import get_user_model


def make_user(name, **flags):
    return get_user_model().objects.create_user(name, **flags)
