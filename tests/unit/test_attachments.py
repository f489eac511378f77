"""chat.attachments without sockets: what a file is (found in its bytes), the
image work (pixel limit, metadata gone, thumbnail), the unfinished uploads on
disk (offsets, gaps, bounds, expiry), and a message stored with its file once."""

import io
import os
import time

import pytest
from PIL import Image

from chat import messages
from chat.attachments import parts, rules
from chat.attachments.inspect import inspect_file, sniff
from chat.connection import Member
from chat.models import Attachment, Room
from chat.payloads import Refused
from tests.support import files

ALLOWED = frozenset(
    {"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"}
)


@pytest.fixture
def parts_dir(settings, tmp_path):
    settings.ATTACHMENT_PARTS_DIR = tmp_path / "parts"
    settings.ATTACHMENT_PENDING_PER_USER = 3
    settings.ATTACHMENT_PENDING_SECONDS = 60
    return settings.ATTACHMENT_PARTS_DIR


def saved(tmp_path, data, name="f"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (files.png(), "image/png"),
        (files.jpeg_with_gps(), "image/jpeg"),
        (b"GIF89a" + b"\x00" * 20, "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"%PDF-1.7\n", "application/pdf"),
        (b"PK\x03\x04rest", "application/zip"),
        (files.SVG_WITH_SCRIPT, "image/svg+xml"),
        (b"\xef\xbb\xbf  <svg onload=alert(1)>", "image/svg+xml"),
        (files.HTML_PAGE, "text/html"),
        (b"<p>hi</p><script>x()</script>", "text/html"),
        (b"plain notes\nwith lines", "text/plain"),
        ("caf\u00e9 \u2615".encode() + "\u00e9".encode()[:1], "text/plain"),  # cut at the end
        (b"\x00\x01\x02binary", "application/octet-stream"),
        (b"\xff\xfe\xfa not utf-8 at all" * 10, "application/octet-stream"),
    ],
)
def test_the_type_comes_from_the_bytes(data, expected):
    assert sniff(data) == expected


def test_a_type_not_allowed_is_refused_whatever_the_name(tmp_path):
    for data in (files.SVG_WITH_SCRIPT, files.HTML_PAGE, b"\x00binary"):
        with pytest.raises(Refused) as refusal:
            inspect_file(saved(tmp_path, data, "innocent.png"), ALLOWED, 40_000_000)
        assert refusal.value.details["reason"] == "type"


def test_an_image_is_measured_and_thumbnailed(tmp_path):
    found = inspect_file(saved(tmp_path, files.png(1200, 300)), ALLOWED, 40_000_000)
    assert (found.content_type, found.width, found.height) == ("image/png", 1200, 300)
    with Image.open(io.BytesIO(found.thumbnail)) as thumbnail:
        assert thumbnail.format == "WEBP"
        assert thumbnail.size == (480, 120)  # within 480 x 480, the same aspect ratio


def test_gps_and_camera_leave_a_photo(tmp_path):
    original = files.jpeg_with_gps()
    assert files.has_gps(original)
    found = inspect_file(saved(tmp_path, original), ALLOWED, 40_000_000)
    assert not files.has_gps(found.body)
    with Image.open(io.BytesIO(found.body)) as kept:
        assert kept.getexif().get(0x010F) is None  # the camera's make too
        assert kept.size == (80, 60)


@pytest.mark.parametrize("size", [(50_000, 50_000), (8_000, 8_000)])
def test_a_decompression_bomb_is_refused_from_its_header(tmp_path, size):
    # 2.5 gigapixels (Pillow's own error) and 64 megapixels (only our limit).
    bomb = files.png_bomb(*size)
    assert len(bomb) < 100_000
    with pytest.raises(Refused) as refusal:
        inspect_file(saved(tmp_path, bomb), ALLOWED, 40_000_000)
    assert refusal.value.details["reason"] == "pixels"


def test_a_broken_image_is_refused(tmp_path):
    with pytest.raises(Refused) as refusal:
        inspect_file(saved(tmp_path, files.png()[:40]), ALLOWED, 40_000_000)
    assert refusal.value.details["reason"] == "image"


def declared(size, room_id=1, name="a.bin"):
    return parts.Declaration(room_id, name, size, "", "")


def test_chunks_go_in_order_and_an_upload_resumes_where_it_was(parts_dir):
    assert parts.begin(7, "upload-one", declared(10)) == 0
    assert parts.append(7, 1, "upload-one", 0, b"abcd")[1] == 4
    assert parts.begin(7, "upload-one", declared(10)) == 4  # asked again: the offset reached
    with pytest.raises(Refused) as gap:
        parts.append(7, 1, "upload-one", 6, b"gh")
    assert gap.value.details == {"reason": "offset", "offset": 4}
    with pytest.raises(Refused) as again:
        parts.append(7, 1, "upload-one", 0, b"abcd")
    assert again.value.details["offset"] == 4
    with pytest.raises(Refused) as too_long:
        parts.append(7, 1, "upload-one", 4, b"efghijk")
    assert too_long.value.details["reason"] == "too_long"
    with pytest.raises(Refused) as elsewhere:
        parts.append(7, 2, "upload-one", 4, b"ef")
    assert elsewhere.value.details["reason"] == "room"
    assert parts.append(7, 1, "upload-one", 4, b"efghij")[1] == 10
    assert parts.part_path(7, "upload-one").read_bytes() == b"abcdefghij"


def test_another_file_under_the_same_id_is_refused(parts_dir):
    parts.begin(7, "upload-one", declared(10))
    with pytest.raises(Refused):
        parts.begin(7, "upload-one", declared(11))


def test_unfinished_uploads_are_bounded_per_user_and_expire(parts_dir, settings):
    for n in range(3):
        parts.begin(7, f"pending-{n}", declared(10))
    with pytest.raises(Refused) as refusal:
        parts.begin(7, "pending-3", declared(10))
    assert refusal.value.details["reason"] == "pending"
    parts.begin(8, "pending-0", declared(10))  # another user has their own
    old = time.time() - 120
    for n in range(3):
        os.utime(parts.part_path(7, f"pending-{n}"), (old, old))
    assert parts.expire() == 3
    assert sorted(p.name for p in parts_dir.rglob("*")) == ["8", "pending-0.json", "pending-0.part"]


def test_no_chunk_without_an_upload(parts_dir):
    with pytest.raises(Refused) as refusal:
        parts.append(7, 1, "never-started", 0, b"x")
    assert refusal.value.details["reason"] == "no_upload"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"name": "a", "size": 10 * 1024 * 1024 + 1}, "too big"),
        ({"name": "a", "size": 0}, "size"),
        ({"name": "a", "size": True}, "size"),
        ({"name": "a", "size": "10"}, "size"),
        ({"name": "", "size": 1}, "name"),
        ({"name": "...", "size": 1}, "name"),
        ({"name": 5, "size": 1}, "name"),
        ({"name": "a", "size": 1, "type": "image/svg+xml"}, "not allowed"),
        ({"name": "a", "size": 1, "type": "text/html"}, "not allowed"),
        ({"name": "a", "size": 1, "type": 7}, "media type"),
        ({"name": "a", "size": 1, "text": "x" * 2001}, "too long"),
        ({"name": "a", "size": 1, "extra": 1}, "Unexpected"),
    ],
)
def test_a_bad_declaration_is_refused_before_any_byte(payload, message):
    with pytest.raises(Refused, match=message):
        rules.START.validate({"client_message_id": "abcdefgh1", **payload})


def test_a_name_keeps_no_path():
    assert rules.file_name("../etc/passwd") == "_etc_passwd"
    assert rules.file_name("a\x00b\u202e.png") == "ab.png"


@pytest.mark.django_db
def test_a_message_and_its_file_are_stored_once_and_counted_in_the_quota(settings):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("alice", password="unused")
    room = Room.objects.get(slug="general")
    member = Member(user.pk, user.username, room.pk, room.slug, room.name)
    fields = {
        "name": "a.png",
        "size": 1000,
        "content_type": "image/png",
        "width": 4,
        "height": 3,
        "storage_key": "attachments/x/file",
        "thumbnail_key": "attachments/x/thumb",
    }
    first, stored = messages.store_message(member, "look", "cid-once-1", attachment=fields)
    again, stored_again = messages.store_message(member, "look", "cid-once-1", attachment=fields)
    assert (stored, stored_again) == (True, False)
    assert again["id"] == first["id"]
    assert first["attachment"]["name"] == "a.png"
    assert first["attachment"]["url"] == f"/chat/files/{first['attachment']['id']}/"
    assert Attachment.objects.count() == 1
    assert rules.stored_bytes(user.pk) == 1000
    history = messages.before(room.pk, room.slug, None, 5)
    assert history[-1]["attachment"] == first["attachment"]
    settings.ATTACHMENT_QUOTA_BYTES = 1500
    with pytest.raises(Refused) as refusal:
        rules.refuse_over_quota(user.pk, 501)
    assert refusal.value.details["reason"] == "quota"
    message = messages.find(room.pk, first["id"])
    messages.delete_message(message)
    assert Attachment.objects.count() == 0
    assert rules.stored_bytes(user.pk) == 0
    assert messages.as_event(message, room.slug, "alice")["attachment"] is None
