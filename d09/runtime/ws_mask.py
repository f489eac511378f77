"""Unmasking WebSocket frames at C speed under eventlet.

Every frame a browser sends is masked (RFC 6455: XOR with a 4-byte key).
eventlet's WebSocket server unmasks byte by byte in a Python generator
(``RFC6455WebSocket._apply_mask``): about 20 ms of the event loop for one
64 KB chunk of an attachment, during which no other connection of the worker
is served (bench/README.md, "Attachments"). The same XOR over the whole frame
as one big integer takes microseconds. ``install()`` puts it in place of
eventlet's; ``tests/unit/test_ws_mask.py`` checks that eventlet still has the
method, with this signature, and that both give the same bytes.
"""

import inspect

SIGNATURE = "(data, mask, length=None, offset=0)"


def apply_mask(data, mask, length=None, offset=0):
    """``data[:length]`` XOR the key ``mask`` (4 ints) started at ``offset``."""
    if length is None:
        length = len(data)
    if length <= 0:
        return b""
    key = bytes(mask[(offset + i) % 4] for i in range(4))
    stream = (key * (length // 4 + 1))[:length]
    masked = int.from_bytes(data[:length], "little") ^ int.from_bytes(stream, "little")
    return masked.to_bytes(length, "little")


def install():
    """Use ``apply_mask`` in eventlet's WebSocket server; False if it has changed."""
    from eventlet import websocket

    current = websocket.RFC6455WebSocket.__dict__.get("_apply_mask")
    function = getattr(current, "__func__", None)
    if function is None or str(inspect.signature(function)) != SIGNATURE:
        return False
    websocket.RFC6455WebSocket._apply_mask = staticmethod(apply_mask)
    return True
