"""The payloads of the upload events and the limits an upload must keep.

Everything a client declares is checked here before a byte of the file is
accepted: its size against ATTACHMENT_MAX_BYTES and the user's quota, its
declared type against ATTACHMENT_TYPES (the type found in the bytes is
checked again at the end: ``chat.attachments.inspect``).
"""

import unicodedata

from django.conf import settings
from django.db.models import Sum

from chat.limits import RateLimiter
from chat.messages import MAX_MESSAGE_LENGTH, client_message_id
from chat.models import Attachment
from chat.payloads import Refused, Schema, optional

MAX_NAME_LENGTH = 255
# Image types shown inline (with their stored type): raster formats only.
# SVG and HTML are never rendered, whatever ATTACHMENT_TYPES says.
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


def chunk_size():
    """Bytes of one chunk: one binary frame, within the server's maxPayload."""
    return settings.SIO_MAX_PAYLOAD


def file_name(value):
    """A check: a file's name, without a path, control characters or slashes."""
    if not isinstance(value, str):
        raise Refused("The file name must be a string.")
    name = "".join(ch for ch in value if unicodedata.category(ch)[0] != "C")
    name = name.replace("/", "_").replace("\\", "_").strip().lstrip(".")
    if not name:
        raise Refused("The file needs a name.")
    if len(name) > MAX_NAME_LENGTH:
        raise Refused(f"The file name is too long (at most {MAX_NAME_LENGTH} characters).")
    return name


def file_size(value):
    """A check: the declared size, within ATTACHMENT_MAX_BYTES (refused before
    any of the file is sent)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise Refused('"size" must be the file\'s size in bytes (a whole number > 0).')
    limit = settings.ATTACHMENT_MAX_BYTES
    if value > limit:
        raise Refused(
            f"This file is too big ({human_size(value)}; at most {human_size(limit)}).",
            reason="too_big",
        )
    return value


def declared_type(value):
    """A check: the type the client says the file has (a hint, checked again
    against the bytes); empty means "unknown"."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or len(value) > 100:
        raise Refused('"type" must be a media type such as "image/png".')
    value = value.strip().lower()
    if value not in settings.ATTACHMENT_TYPES and not _text_like(value):
        raise Refused(f"Files of type {value} are not allowed here.", reason="type")
    return value


def _text_like(value):
    # Browsers call many plain-text files by their own names (text/markdown,
    # text/csv): let the bytes decide.
    return value.startswith("text/") and value not in ("text/html", "text/xml")


def caption(value):
    """A check: the optional caption (the message's text), at most as long as a line."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Refused("The caption must be a string.")
    text = value.strip()
    if len(text) > MAX_MESSAGE_LENGTH:
        raise Refused(f"The caption is too long (at most {MAX_MESSAGE_LENGTH} characters).")
    return text


def offset(value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Refused('"offset" must be a whole number >= 0.')
    return value


def chunk(value):
    """A check: a chunk's bytes (a binary attachment of the packet)."""
    if not isinstance(value, bytes):
        raise Refused('"data" must be binary (a Socket.IO binary attachment).')
    if not value:
        raise Refused("A chunk must hold at least one byte.")
    if len(value) > chunk_size():
        raise Refused(f"A chunk holds at most {chunk_size()} bytes.")
    return value


START = Schema(
    not_an_object='Start an upload with {"client_message_id", "name", "size", "type"}.',
    fields={
        "client_message_id": client_message_id,
        "name": file_name,
        "size": file_size,
        "type": optional(declared_type),
        "text": caption,
    },
)
CHUNK = Schema(
    not_an_object='Send a chunk as {"client_message_id", "offset", "data": <binary>}.',
    fields={"client_message_id": client_message_id, "offset": offset, "data": chunk},
)
CANCEL = Schema(
    not_an_object='Cancel an upload with {"client_message_id": "..."}.',
    fields={"client_message_id": client_message_id},
)


def stored_bytes(user_id):
    """Bytes of the files the user has stored (the deleted messages' are gone)."""
    total = Attachment.objects.filter(
        message__author_id=user_id, message__deleted__isnull=True
    ).aggregate(total=Sum("size"))["total"]
    return total or 0


def refuse_over_quota(user_id, size):
    quota = settings.ATTACHMENT_QUOTA_BYTES
    if quota and stored_bytes(user_id) + size > quota:
        raise Refused(
            f"Your files would take more than your {human_size(quota)}: "
            "delete some of your messages with files first.",
            reason="quota",
        )


def upload_limiter():
    """Per user: ATTACHMENTS_PER_MINUTE new uploads at once, then as many a minute."""
    per_minute = settings.ATTACHMENTS_PER_MINUTE
    return RateLimiter(burst=per_minute, rate=per_minute / 60)


def human_size(size):
    """'532 bytes', '1.5 KB', '10 MB'."""
    if size < 1024:
        return f"{size} bytes"
    for unit in ("KB", "MB", "GB"):
        size /= 1024
        if size < 1024 or unit == "GB":
            return f"{size:.1f}".rstrip("0").rstrip(".") + f" {unit}"
    return None  # unreachable
