"""Unfinished uploads: the bytes received so far, on the worker host's disk.

One upload is two files under ATTACHMENT_PARTS_DIR/<user id>/: ``<cid>.part``
(the bytes, in order) and ``<cid>.json`` (what was declared). The offset
reached is the part's size, so asking again after a dropped connection (or
from another worker of the same host) answers where to go on. Nothing of an
upload stays in memory between chunks.

Bounded: at most ATTACHMENT_PENDING_PER_USER unfinished uploads per user, each
no bigger than it declared (itself within ATTACHMENT_MAX_BYTES), each deleted
ATTACHMENT_PENDING_SECONDS after its last chunk (``expire``, run by
chat.background and before each new upload of the user).
"""

import contextlib
import json
import logging
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from django.conf import settings

from chat.payloads import Refused

logger = logging.getLogger(__name__)

NO_UPLOAD = (
    "There is no upload under way with this client_message_id (finished, cancelled or "
    "expired): start it again with upload_start."
)


@dataclass(frozen=True)
class Declaration:
    """What the client said it would send, and where."""

    room_id: int
    name: str
    size: int
    type: str
    text: str


def _user_dir(user_id):
    return Path(settings.ATTACHMENT_PARTS_DIR) / str(int(user_id))


def _paths(user_id, cid):
    # cid is a checked client_message_id: [A-Za-z0-9_-]{8,64}, safe as a file name.
    folder = _user_dir(user_id)
    return folder / f"{cid}.part", folder / f"{cid}.json"


def declaration(user_id, cid):
    """The upload's Declaration, or None when there is none."""
    _, meta = _paths(user_id, cid)
    try:
        return Declaration(**json.loads(meta.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def reached(user_id, cid):
    """The offset the upload has reached (the bytes received)."""
    part, _ = _paths(user_id, cid)
    try:
        return part.stat().st_size
    except OSError:
        return 0


def part_path(user_id, cid):
    return _paths(user_id, cid)[0]


def pending(user_id):
    """The client_message_ids of the user's unfinished uploads."""
    try:
        return [path.stem for path in _user_dir(user_id).glob("*.json")]
    except OSError:
        return []


def begin(user_id, cid, declared):
    """Start the upload ``cid`` of ``declared``, or find it under way (a
    resume: the same file in the same room); the offset to send from."""
    expire(user_id=user_id)
    known = declaration(user_id, cid)
    if known is not None:
        if (known.room_id, known.name, known.size) != (
            declared.room_id,
            declared.name,
            declared.size,
        ):
            raise Refused(
                "This client_message_id is already an upload of another file: make a new one."
            )
        _touch(user_id, cid)
        return reached(user_id, cid)
    if len(pending(user_id)) >= settings.ATTACHMENT_PENDING_PER_USER:
        raise Refused(
            f"You have {settings.ATTACHMENT_PENDING_PER_USER} uploads under way already: "
            "wait for them to finish or cancel one.",
            reason="pending",
        )
    part, meta = _paths(user_id, cid)
    part.parent.mkdir(parents=True, exist_ok=True)
    part.write_bytes(b"")
    meta.write_text(json.dumps(asdict(declared)))
    return 0


def append(user_id, room_id, cid, offset, data):
    """Add ``data`` at ``offset``, which must be exactly where the upload is:
    a gap or a chunk sent twice or out of order is refused with the offset
    expected (``{"offset": n}`` in the ack). Returns ``(declaration, new offset)``."""
    declared = declaration(user_id, cid)
    if declared is None:
        raise Refused(NO_UPLOAD, reason="no_upload")
    if declared.room_id != room_id:
        raise Refused("This upload was started in another room.", reason="room")
    at = reached(user_id, cid)
    if offset != at:
        raise Refused(
            f"Expected the chunk at offset {at}, not {offset}: send from {at}.",
            reason="offset",
            offset=at,
        )
    if at + len(data) > declared.size:
        raise Refused(
            f"More bytes than the {declared.size} declared.", reason="too_long", offset=at
        )
    # A few KB to the page cache: no longer than a log line on the loop.
    with open(part_path(user_id, cid), "ab") as part:
        part.write(data)
    return declared, at + len(data)


def discard(user_id, cid):
    """Delete the upload's part and declaration (finished, cancelled or expired)."""
    for path in _paths(user_id, cid):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _touch(user_id, cid):
    with contextlib.suppress(OSError):
        os.utime(part_path(user_id, cid))


def expire(user_id=None, now=None):
    """Delete uploads with no chunk for ATTACHMENT_PENDING_SECONDS (one user's,
    or everyone's); the number deleted."""
    now = time.time() if now is None else now
    oldest = now - settings.ATTACHMENT_PENDING_SECONDS
    root = Path(settings.ATTACHMENT_PARTS_DIR)
    folders = [_user_dir(user_id)] if user_id is not None else _folders(root)
    gone = 0
    for folder in folders:
        for meta in _glob(folder, "*.json"):
            part = meta.with_suffix(".part")
            try:
                last = part.stat().st_mtime
            except FileNotFoundError:
                last = 0  # a declaration without its part: left over, delete it
            if last < oldest:
                discard(folder.name, meta.stem)
                gone += 1
        if user_id is None:
            _remove_if_empty(folder)
    if gone:
        logger.info("expired %s unfinished uploads", gone)
    return gone


def _folders(root):
    try:
        return [path for path in root.iterdir() if path.is_dir() and path.name.isdigit()]
    except OSError:
        return []


def _glob(folder, pattern):
    try:
        return list(folder.glob(pattern))
    except OSError:
        return []


def _remove_if_empty(folder):
    with contextlib.suppress(OSError):
        folder.rmdir()  # only an empty one


def clear():
    """Delete every unfinished upload (tests)."""
    shutil.rmtree(settings.ATTACHMENT_PARTS_DIR, ignore_errors=True)
