"""The one validator of what clients send: the connect auth payload and the
payload of every client event.

A payload must be exactly one JSON object with only the fields its schema
names; each field's check returns the clean value or raises ``Refused`` with a
sentence the user can read. Nothing here knows about sockets.
"""

import re
from dataclasses import dataclass, field

from django.core.validators import slug_re

# Field names and event names are echoed in errors and logs: at most this long.
MAX_ECHOED_NAME = 40

# What a username may be (django.contrib.auth's UnicodeUsernameValidator) and
# a room's address: a name from a client (an event, a URL, a query string) is
# checked for its shape before any lookup, since PostgreSQL refuses a NUL in a
# query with an error that is not a database error.
USERNAME = re.compile(r"[\w.@+-]+")
USERNAME_MAX_LENGTH = 150  # django.contrib.auth's User.username
SLUG_MAX_LENGTH = 100  # chat.models.Room.slug


def is_username(value):
    return (
        isinstance(value, str)
        and len(value) <= USERNAME_MAX_LENGTH
        and bool(USERNAME.fullmatch(value))
    )


def is_slug(value):
    return isinstance(value, str) and len(value) <= SLUG_MAX_LENGTH and bool(slug_re.match(value))


class Refused(ValueError):
    """A request the chat refuses; the text is shown to the user as is.

    ``retry_after`` (seconds) marks a refusal that passes by itself (a rate
    limit, a busy room): a refused connection tells the page to try again then
    instead of giving up. Other keyword arguments go into the ack as they are.
    """

    def __init__(self, message, retry_after=None, **details):
        super().__init__(message)
        self.retry_after = retry_after
        self.details = details  # more for the client, in the ack (e.g. a mute's end)


def echo(name):
    """``name`` for an error message or a log line, shortened if long."""
    text = str(name)
    return text if len(text) <= MAX_ECHOED_NAME else text[: MAX_ECHOED_NAME - 1] + "…"


@dataclass(frozen=True)
class Schema:
    """The fields of one kind of payload: name -> check (value -> clean value).
    An absent field is checked as None: a required field's check refuses it,
    an ``optional(...)`` check lets it through as None."""

    not_an_object: str  # the refusal for anything but exactly one object
    fields: dict = field(default_factory=dict)
    unexpected: str = "Unexpected field(s): {}."

    def validate(self, *args):
        """The clean fields of ``args``, which must be exactly one payload object."""
        if len(args) != 1 or not isinstance(args[0], dict):
            raise Refused(self.not_an_object)
        payload = args[0]
        extra = set(payload) - set(self.fields)
        if extra:
            names = ", ".join(sorted(echo(name) for name in extra)[:5])
            raise Refused(self.unexpected.format(names))
        return {name: check(payload.get(name)) for name, check in self.fields.items()}


def message_id(name):
    """A check: a message id, a whole number >= 0 (JSON booleans are not)."""

    def check(value):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise Refused(f'"{name}" must be a message id (a whole number >= 0).')
        return value

    return check


def optional(check):
    """``check`` for a field that may be absent or null (then None)."""

    def check_if_given(value):
        return None if value is None else check(value)

    return check_if_given
