"""From a finished upload to stored files, and back to the wire.

Files are kept through Django's storage API (``default_storage``: files under
MEDIA_ROOT, or S3 with django-storages), under keys nobody is ever shown:
only ``chat.attachments.views`` reads them, for those who may see the room.
A file's row (``Attachment``) is made with its message, in one transaction,
by ``chat.messages.store_message``: a ``client_message_id`` sent again makes
nothing twice (the files stored for the copy are deleted again).
"""

import logging
import secrets

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import transaction
from django.urls import reverse

from chat.attachments import parts
from chat.attachments.inspect import THUMBNAIL_TYPE, inspect_file
from chat.attachments.rules import INLINE_TYPES
from d09.offloop import off_loop

logger = logging.getLogger(__name__)


def wire(attachment):
    """The ``attachment`` field of a message's wire form (None without one)."""
    if attachment is None:
        return None
    return {
        "id": attachment.id,
        "name": attachment.name,
        "size": attachment.size,
        "type": attachment.content_type,
        "width": attachment.width,
        "height": attachment.height,
        "url": reverse("chat:attachment", args=[attachment.id]),
        "thumbnail": (
            reverse("chat:attachment_thumbnail", args=[attachment.id])
            if attachment.thumbnail_key
            else None
        ),
        "inline": attachment.content_type in INLINE_TYPES,
    }


def keep(user_id, cid, declared):
    """Check and store the finished upload ``cid``: the fields of its
    ``Attachment`` (without the message). Refused when the bytes are not
    what may be kept; the part is deleted either way."""
    path = parts.part_path(user_id, cid)
    try:
        found = off_loop(
            inspect_file, path, frozenset(settings.ATTACHMENT_TYPES), settings.ATTACHMENT_MAX_PIXELS
        )
        folder = f"attachments/{declared.room_id}/{secrets.token_urlsafe(16)}"
        if found.body is not None:
            key = default_storage.save(f"{folder}/file", ContentFile(found.body))
            size = len(found.body)
        else:
            with open(path, "rb") as stream:
                key = default_storage.save(f"{folder}/file", File(stream))
            size = declared.size
        thumbnail_key = ""
        if found.thumbnail is not None:
            thumbnail_key = default_storage.save(f"{folder}/thumb", ContentFile(found.thumbnail))
    finally:
        parts.discard(user_id, cid)
    return {
        "name": declared.name,
        "size": size,
        "content_type": found.content_type,
        "width": found.width,
        "height": found.height,
        "storage_key": key,
        "thumbnail_key": thumbnail_key,
    }


def forget(fields):
    """Delete stored files that no row names (a resend's copy)."""
    for key in (fields["storage_key"], fields["thumbnail_key"]):
        if key:
            _delete(key)


def delete_files_on_commit(attachment):
    """The files of a deleted ``Attachment`` row go once its deletion is committed."""
    keys = [key for key in (attachment.storage_key, attachment.thumbnail_key) if key]
    transaction.on_commit(lambda: [_delete(key) for key in keys])


def _delete(key):
    try:
        default_storage.delete(key)
    except Exception:  # a store that fails now must not undo the delete
        logger.exception("could not delete stored file %s", key)


def thumbnail_type():
    return THUMBNAIL_TYPE
