"""chat.moderation's payloads: a mute names a user by a username's shape, so
nothing else (a NUL, which PostgreSQL refuses in a query) reaches the lookup."""

import pytest

from chat.moderation import MUTE, UNMUTE
from chat.payloads import Refused


def test_a_mute_names_a_user_and_a_length():
    assert MUTE.validate({"user": "alice.b@x+y-z_1", "minutes": 5}) == {
        "user": "alice.b@x+y-z_1",
        "minutes": 5,
    }
    assert UNMUTE.validate({"user": "Zoë"}) == {"user": "Zoë"}


@pytest.mark.parametrize("name", ["", "al\x00ice", "al ice", "a" * 151, 3, None, ["alice"]])
def test_anything_but_a_username_is_refused_before_any_lookup(name):
    with pytest.raises(Refused, match=r'"user" must be a username\.'):
        UNMUTE.validate({"user": name})
