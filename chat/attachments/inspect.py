"""What a file is, found in its bytes, and the work images need: Pillow,
run off the event loop (``inspect_file`` is pure: a path in, bytes out).

The type comes from the file's first bytes (a few well-known signatures,
then markup, then text), never from the client. Images are opened by Pillow,
which reads the header first: over ATTACHMENT_MAX_PIXELS they are refused
before a pixel is decoded (``Image.MAX_IMAGE_PIXELS`` is the second line: a
``DecompressionBombError``). An image is kept re-encoded: the pixels only,
turned the way its EXIF said, without EXIF (GPS position, camera), XMP or
comments. A GIF is kept as sent (it carries no EXIF, and re-encoding would
cost its animation); its thumbnail is its first frame.
"""

import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from chat.payloads import Refused

THUMBNAIL_BOX = (480, 480)
THUMBNAIL_TYPE = "image/webp"
SNIFF_BYTES = 64 * 1024

_SIGNATURES = [
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"PK\x05\x06", "application/zip"),  # an empty archive
]
_PILLOW_FORMATS = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
}


@dataclass(frozen=True)
class Inspected:
    content_type: str
    width: int = None
    height: int = None
    body: bytes = None  # the image re-encoded, to keep instead of the bytes sent
    thumbnail: bytes = None


def sniff(head):
    """The media type of a file that starts with ``head``."""
    for signature, content_type in _SIGNATURES:
        if head.startswith(signature):
            return content_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    markup = _markup(head)
    if markup:
        return markup
    if b"\x00" in head:
        return "application/octet-stream"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        # A character cut at the end of the sniffed bytes is still text.
        if error.start < len(head) - 3:
            return "application/octet-stream"
    return "text/plain"


def _markup(head):
    """SVG, HTML or XML: what a browser could run scripts in."""
    start = head[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if not start.startswith(b"<"):
        return None
    if b"<svg" in start:
        return "image/svg+xml"
    if start.startswith((b"<!doctype html", b"<html")) or b"<script" in start:
        return "text/html"
    if start.startswith(b"<?xml"):
        return "application/xml"
    return None


def inspect_file(path, allowed_types, max_pixels):
    """Inspected for the file at ``path``; Refused when its type is not
    allowed or it is not the image it looks like, or too big an image."""
    with open(path, "rb") as file:
        head = file.read(SNIFF_BYTES)
    content_type = sniff(head)
    if content_type not in allowed_types:
        raise Refused(
            f"Files of type {content_type} are not allowed here (found in the file itself).",
            reason="type",
        )
    if content_type not in _PILLOW_FORMATS:
        return Inspected(content_type)
    return _inspect_image(path, content_type, max_pixels)


def _inspect_image(path, content_type, max_pixels):
    Image.MAX_IMAGE_PIXELS = max_pixels  # Pillow's own check, at open and load
    try:
        with Image.open(path, formats=[_PILLOW_FORMATS[content_type]]) as image:
            frames = getattr(image, "n_frames", 1)
            if image.width * image.height * frames > max_pixels:
                raise Refused(
                    f"This image is too large ({image.width} x {image.height} pixels"
                    f"{f', {frames} frames' if frames > 1 else ''}).",
                    reason="pixels",
                )
            return _processed(image, content_type)
    except Refused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise Refused("This image is too large.", reason="pixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as error:
        raise Refused(f"This file is not a readable image ({error}).", reason="image") from None


def _processed(image, content_type):
    image.load()
    if content_type == "image/gif":
        body = None  # kept as sent
        upright = image
    else:
        upright = ImageOps.exif_transpose(image)
        body = _reencoded(upright, image, content_type)
    return Inspected(
        content_type,
        width=upright.width,
        height=upright.height,
        body=body,
        thumbnail=_thumbnail(upright),
    )


def _reencoded(upright, original, content_type):
    """The pixels alone, in the same format: no EXIF, XMP, comments or text chunks."""
    out = io.BytesIO()
    fmt = _PILLOW_FORMATS[content_type]
    options = {}
    if fmt == "JPEG":
        options = {"quality": 92, "optimize": True}
        upright = upright.convert("RGB") if upright.mode not in ("RGB", "L", "CMYK") else upright
    elif fmt == "WEBP":
        options = {"quality": 90, "lossless": original.info.get("lossless", False)}
    animated = getattr(original, "is_animated", False) and fmt in ("PNG", "WEBP")
    if animated:
        original.save(out, format=fmt, save_all=True, **options)
    else:
        upright.save(out, format=fmt, **options)
    return out.getvalue()


def _thumbnail(image):
    """A WebP of the first frame, within THUMBNAIL_BOX."""
    frame = image.copy()
    frame = frame.convert("RGBA" if _has_alpha(frame) else "RGB")
    frame.thumbnail(THUMBNAIL_BOX)
    out = io.BytesIO()
    frame.save(out, format="WEBP", quality=80)
    return out.getvalue()


def _has_alpha(image):
    return image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
