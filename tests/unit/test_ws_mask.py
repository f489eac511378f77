"""d09.runtime.ws_mask: the same bytes as eventlet's unmasking, at C speed."""

import os
import random

import pytest
from eventlet import websocket

from d09.runtime import ws_mask

ORIGINAL = websocket.RFC6455WebSocket.__dict__["_apply_mask"].__func__


def test_eventlet_still_has_the_method_it_replaces():
    # An upgrade that renames or changes it fails here, not silently in production.
    assert ORIGINAL.__name__ == "_apply_mask"
    import inspect

    assert str(inspect.signature(ORIGINAL)) == ws_mask.SIGNATURE


@pytest.mark.parametrize("length", [0, 1, 3, 4, 5, 127, 1000, 65536])
def test_the_same_bytes_as_eventlet_at_every_offset(length):
    data = os.urandom(length + 7)
    mask = tuple(random.randrange(256) for _ in range(4))
    for offset in range(5):
        assert ws_mask.apply_mask(data, mask, length, offset) == ORIGINAL(
            data, mask, length, offset
        )
    assert ws_mask.apply_mask(data[:length], mask) == ORIGINAL(data[:length], mask)


def test_install_puts_it_in_place():
    try:
        assert ws_mask.install()
        assert websocket.RFC6455WebSocket._apply_mask is ws_mask.apply_mask
    finally:
        websocket.RFC6455WebSocket._apply_mask = staticmethod(ORIGINAL)
