"""The one way a stored file leaves the server: to a user who may see its
room, asked on every request (``chat.access``), as if it did not exist to
anyone else (404). Images of the raster types in INLINE_TYPES are served with
their stored type, to be shown in the page; everything else, SVG and HTML
included, only as a download (``Content-Disposition: attachment``), never
sniffed (``X-Content-Type-Options: nosniff``), in a sandbox if opened anyway.
"""

from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.views.decorators.http import require_GET

from chat import access
from chat.attachments.inspect import THUMBNAIL_TYPE
from chat.attachments.rules import INLINE_TYPES
from chat.models import Attachment


def _visible(user, attachment_id):
    attachment = (
        Attachment.objects.filter(pk=attachment_id, message__deleted__isnull=True)
        .select_related("message__room")
        .first()
    )
    if attachment is None:
        raise Http404("No such file.")
    room = attachment.message.room
    if not user.is_active or not access.may_see(user.pk, room.pk, room.kind):
        raise Http404("No such file.")
    return attachment


def _serve(key, content_type, inline, name):
    try:
        stream = default_storage.open(key, "rb")
    except (FileNotFoundError, OSError):
        raise Http404("No such file.") from None
    response = FileResponse(
        stream, as_attachment=not inline, filename=name, content_type=content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    # Opened in a tab after all, a file may run nothing and reach nothing.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, max-age=3600"
    return response


@require_GET
@login_required
def attachment(request, attachment_id):
    """The file itself: inline for an image of an allowed type, else a download."""
    found = _visible(request.user, attachment_id)
    inline = found.content_type in INLINE_TYPES
    content_type = found.content_type if inline else "application/octet-stream"
    return _serve(found.storage_key, content_type, inline, found.name)


@require_GET
@login_required
def thumbnail(request, attachment_id):
    """An image's thumbnail (always a WebP made here)."""
    found = _visible(request.user, attachment_id)
    if not found.thumbnail_key:
        raise Http404("No thumbnail.")
    return _serve(found.thumbnail_key, THUMBNAIL_TYPE, True, "thumbnail.webp")
