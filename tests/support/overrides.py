"""Checks for the classes that override private methods of a library."""

import inspect


def assert_override_matches(library_class, our_class, name, parameters):
    """``name`` still exists in ``library_class`` with ``parameters``, and ours
    has the same: otherwise a library upgrade would drop a guard without a word."""
    library = inspect.signature(getattr(library_class, name))
    ours = inspect.signature(getattr(our_class, name))
    assert tuple(library.parameters) == parameters
    assert tuple(ours.parameters) == parameters
