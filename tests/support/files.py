"""Files for the attachment tests, made here (no fixtures on disk), and the
upload a client makes over the socket (README, "Event API": upload_start,
upload_chunk)."""

import io
import os
import struct
import uuid
import zlib

from PIL import Image

GPS_IFD = 0x8825


def client_id():
    return "f" + uuid.uuid4().hex[:20]


def png(width=64, height=48, colour=(200, 30, 30)):
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="PNG")
    return out.getvalue()


def noisy_png(width=300, height=200):
    """A PNG that does not compress: about width x height x 3 bytes."""
    out = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(out, "PNG")
    return out.getvalue()


def jpeg_with_gps(width=80, height=60):
    """A JPEG whose EXIF says where it was taken (and with which camera)."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)})
    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(out, format="JPEG", exif=exif)
    return out.getvalue()


def has_gps(data):
    with Image.open(io.BytesIO(data)) as image:
        return bool(image.getexif().get_ifd(GPS_IFD))


def _chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(width=50_000, height=50_000):
    """A valid little PNG that claims width x height pixels: decoding it would
    take gigabytes (its header says so before a pixel is read)."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(200)) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", data)
        + _chunk(b"IEND", b"")
    )


SVG_WITH_SCRIPT = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(document.cookie)</script></svg>"
)
HTML_PAGE = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"


def start(client, data, name="picture.png", type="image/png", text="", cid=None):
    """``upload_start`` for ``data``; (client_message_id, ack)."""
    cid = cid or client_id()
    payload = {"client_message_id": cid, "name": name, "size": len(data), "type": type}
    if text:
        payload["text"] = text
    return cid, client.call(payload, event="upload_start", timeout=30)


def send_from(client, cid, data, offset, chunk_size, stop_at=None):
    """Chunks of ``data`` from ``offset`` until the end (or ``stop_at``); the last ack."""
    answer = {"ok": True, "offset": offset}
    end = len(data) if stop_at is None else stop_at
    while answer.get("ok") and offset < end:
        piece = data[offset : min(offset + chunk_size, end)]
        answer = client.call(
            {"client_message_id": cid, "offset": offset, "data": piece},
            event="upload_chunk",
            timeout=60,
        )
        offset = answer.get("offset", offset)
    return answer


def upload(client, data, **declared):
    """A whole upload; the ack of its last chunk (or the refusal)."""
    cid, started = start(client, data, **declared)
    if not started.get("ok") or "id" in started:
        return started
    return send_from(client, cid, data, started["offset"], started["chunk_size"])
