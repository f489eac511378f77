"""Attachments against the real server (issue 25): files sent over the chat's
own WebSocket as Socket.IO binary events, in chunks, each acknowledged; what
the room sees; what the file view serves and to whom; and the hostile
uploads (too big, lying type, bomb, SVG with script, gaps, too many started)."""

import json
from pathlib import Path

import pytest
import requests

from tests.support import files
from tests.support.raw import RawSocket
from tests.support.server import DEMO_PASSWORD, login, wait_until
from tests.support.sio import connected

pytestmark = pytest.mark.server


@pytest.fixture(scope="module", params=["filesystem", "s3"])
def live(request, module_servers):
    """The server, keeping its files on its disk (MEDIA_ROOT) or in an S3
    bucket (moto's server on loopback): every test here runs with each."""
    storage = {}
    if request.param == "s3":
        storage = request.getfixturevalue("s3_service").new_bucket()
    server = module_servers.start(
        ATTACHMENT_MAX_BYTES=str(300_000),
        ATTACHMENT_PENDING_PER_USER="3",
        ATTACHMENT_PENDING_SECONDS="3",
        SIO_MAX_PAYLOAD=str(16 * 1024),
        **storage,
    )
    server.storage = request.param
    yield server
    server.stop()


def stored_files(request, live, room):
    """The names of the files the server keeps for ``room`` (in its storage)."""
    prefix = f"attachments/{room_id(live, room)}/"
    if live.storage == "s3":
        s3 = request.getfixturevalue("s3_service")
        keys = s3.keys(live.env["AWS_STORAGE_BUCKET_NAME"], prefix)
    else:
        folder = Path(live.env["MEDIA_ROOT"]) / prefix
        keys = [str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()]
    return sorted(key.rsplit("/", 1)[-1] for key in keys)


@pytest.fixture(scope="module")
def people(live):
    return {name: login(live.url, name, DEMO_PASSWORD) for name in ("alice", "bob", "carol")}


@pytest.fixture
def room(live):
    import uuid

    slug = "f-" + uuid.uuid4().hex[:10]
    return live.create_room(f"Files {slug}", slug)


@pytest.fixture
def opened():
    clients = []
    yield clients
    for client in clients:
        client.close()


def open_as(live, people, opened, name, room):
    client = connected(live.url, people[name], room)
    opened.append(client)
    return client


def room_id(live, slug):
    code = f"from chat.models import Room; print(Room.objects.get(slug={slug!r}).pk)"
    return int(live.manage("shell", "-c", code).strip().splitlines()[-1])


def get(person, live, path):
    return person.session.get(live.url + path, timeout=10)


def parts_of(live):
    """The files of the unfinished uploads on the server's disk."""
    root = Path(live.env["MEDIA_ROOT"]) / "parts"
    return sorted(p.name for p in root.rglob("*") if p.is_file())


def test_an_image_reaches_the_room_with_its_thumbnail_and_only_members_get_it(
    live, people, opened, room
):
    alice = open_as(live, people, opened, "alice", room)
    bob = open_as(live, people, opened, "bob", room)
    picture = files.png(640, 360)
    done = files.upload(alice, picture, name="screen.png", text="the bug")
    assert done["ok"], done
    message = bob.wait_for("message", lambda m: m["id"] == done["id"])
    assert message["text"] == "the bug"
    shown = message["attachment"]
    assert {k: shown[k] for k in ("name", "type", "width", "height", "inline")} == {
        "name": "screen.png",
        "type": "image/png",
        "width": 640,
        "height": 360,
        "inline": True,
    }
    full = get(people["bob"], live, shown["url"])
    assert full.status_code == 200
    assert full.headers["Content-Type"] == "image/png"
    assert full.headers["X-Content-Type-Options"] == "nosniff"
    assert "attachment" not in full.headers.get("Content-Disposition", "")
    assert full.content[:8] == b"\x89PNG\r\n\x1a\n"
    thumb = get(people["bob"], live, shown["thumbnail"])
    assert (thumb.status_code, thumb.headers["Content-Type"]) == (200, "image/webp")
    # History and a returning page carry it too.
    later = open_as(live, people, opened, "carol", room)
    history = later.wait_for("history")
    assert any(m["id"] == done["id"] and m["attachment"] == shown for m in history)
    # Nobody logged out, no other origin of the URL: a login page or nothing.
    anonymous = requests.get(live.url + shown["url"], timeout=10, allow_redirects=False)
    assert anonymous.status_code == 302


def test_a_file_of_a_private_room_is_not_found_for_a_non_member(live, people, opened):
    from tests.live.test_private_rooms import create_room

    slug = create_room(live, people["alice"], "Secret files", members="bob")
    alice = open_as(live, people, opened, "alice", slug)
    done = files.upload(alice, b"private plan\n", name="plan.txt", type="text/plain")
    assert done["ok"], done
    url = alice.wait_for("message", lambda m: m["id"] == done["id"])["attachment"]["url"]
    assert get(people["bob"], live, url).status_code == 200
    assert get(people["carol"], live, url).status_code == 404
    assert get(people["carol"], live, url + "thumbnail/").status_code == 404
    assert get(people["carol"], live, "/chat/files/999999/").status_code == 404


def test_other_files_are_downloads_and_a_lying_type_is_not_believed(live, people, opened, room):
    alice = open_as(live, people, opened, "alice", room)
    done = files.upload(alice, b"just notes, not a picture\n", name="notes.png", type="image/png")
    assert done["ok"], done
    shown = alice.wait_for("message", lambda m: m["id"] == done["id"])["attachment"]
    assert (shown["type"], shown["inline"], shown["width"], shown["thumbnail"]) == (
        "text/plain",
        False,
        None,
        None,
    )
    served = get(people["alice"], live, shown["url"])
    assert served.headers["Content-Type"] == "application/octet-stream"
    assert served.headers["Content-Disposition"].startswith("attachment;")
    assert 'filename="notes.png"' in served.headers["Content-Disposition"]
    assert served.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("data", "declared"),
    [
        (files.SVG_WITH_SCRIPT, "image/png"),
        (files.HTML_PAGE, "text/plain"),
    ],
)
def test_an_svg_or_html_with_script_is_refused_and_nothing_is_kept(
    live, people, opened, room, data, declared
):
    alice = open_as(live, people, opened, "alice", room)
    answer = files.upload(alice, data, name="innocent.png", type=declared)
    assert answer["ok"] is False and answer["reason"] == "type", answer
    assert "not allowed" in answer["error"]
    assert parts_of(live) == []
    assert not alice.of("message")


def test_svg_and_html_are_refused_as_declared_before_any_byte(live, people, opened, room):
    alice = open_as(live, people, opened, "alice", room)
    for declared in ("image/svg+xml", "text/html"):
        _, answer = files.start(alice, files.SVG_WITH_SCRIPT, name="x.svg", type=declared)
        assert answer["ok"] is False and answer["reason"] == "type", answer


def test_a_decompression_bomb_is_refused(live, people, opened, room):
    alice = open_as(live, people, opened, "alice", room)
    answer = files.upload(alice, files.png_bomb(), name="bomb.png")
    assert answer["ok"] is False and answer["reason"] == "pixels", answer
    # The server still answers at once.
    assert files.upload(alice, files.png(), name="fine.png")["ok"]


def test_a_file_over_the_limit_is_refused_at_its_declaration(live, people, opened, room):
    alice = open_as(live, people, opened, "alice", room)
    cid, answer = files.start(alice, b"x" * 300_001, name="big.bin", type="")
    assert answer["ok"] is False and answer["reason"] == "too_big", answer
    assert "too big" in answer["error"]
    # Nothing was started: a chunk for it is refused, not stored.
    chunk = {"client_message_id": cid, "offset": 0, "data": b"x" * 1000}
    refused = alice.call(chunk, event="upload_chunk")
    assert refused["reason"] == "no_upload", refused
    # Declaring less than is sent: the bytes past the declared size are refused.
    cid, _ = files.start(alice, b"y" * 10, name="small.txt", type="text/plain")
    over = alice.call(
        {"client_message_id": cid, "offset": 0, "data": b"y" * 11}, event="upload_chunk"
    )
    assert over["ok"] is False and over["reason"] == "too_long", over
    alice.call({"client_message_id": cid}, event="upload_cancel")


def test_a_chunk_out_of_order_or_after_a_gap_is_refused_with_the_offset_expected(
    live, people, opened, room
):
    alice = open_as(live, people, opened, "alice", room)
    data = bytes(range(256)) * 200  # 51,200 bytes of octets
    data = b"%PDF-1.4\n" + data
    cid, started = files.start(alice, data, name="doc.pdf", type="application/pdf")
    size = started["chunk_size"]
    assert size == 16 * 1024  # one binary frame within SIO_MAX_PAYLOAD
    gap = alice.call(
        {"client_message_id": cid, "offset": size, "data": data[size : 2 * size]},
        event="upload_chunk",
    )
    assert gap == {
        "ok": False,
        "error": "Expected the chunk at offset 0, not 16384: send from 0.",
        "reason": "offset",
        "offset": 0,
    }
    first = alice.call(
        {"client_message_id": cid, "offset": 0, "data": data[:size]}, event="upload_chunk"
    )
    assert first == {"ok": True, "offset": size}
    repeated = alice.call(
        {"client_message_id": cid, "offset": 0, "data": data[:size]}, event="upload_chunk"
    )
    assert repeated["reason"] == "offset" and repeated["offset"] == size
    done = files.send_from(alice, cid, data, size, size)
    assert done["ok"] and done["offset"] == len(data), done
    served = get(people["alice"], live, alice.wait_for("message")["attachment"]["url"])
    assert served.content == data  # in order, nothing twice, nothing missing


def test_a_dropped_connection_resumes_and_the_message_is_stored_once(live, people, opened, room):
    alice = open_as(live, people, opened, "alice", room)
    data = files.noisy_png()
    cid, started = files.start(alice, data, name="big.png")
    size = started["chunk_size"]
    half = files.send_from(alice, cid, data, 0, size, stop_at=2 * size)
    assert half == {"ok": True, "offset": 2 * size}
    alice.close()
    again = open_as(live, people, opened, "alice", room)
    cid, resumed = files.start(again, data, name="big.png", cid=cid)
    assert resumed["offset"] == 2 * size  # where it was, not 0
    done = files.send_from(again, cid, data, resumed["offset"], size)
    assert done["ok"], done
    _, once_more = files.start(again, data, name="big.png", cid=cid)
    assert once_more == {"ok": True, "id": done["id"], "duplicate": True}
    code = "from chat.models import Message as M; "
    code += f"print(M.objects.filter(client_message_id={cid!r}).count())"
    count = live.manage("shell", "-c", code)
    assert count.strip().splitlines()[-1] == "1"


def test_a_photo_loses_its_gps_position(live, people, opened, room):
    alice = open_as(live, people, opened, "alice", room)
    done = files.upload(alice, files.jpeg_with_gps(), name="holiday.jpg", type="image/jpeg")
    assert done["ok"], done
    url = alice.wait_for("message", lambda m: m["id"] == done["id"])["attachment"]["url"]
    served = get(people["alice"], live, url).content
    assert served[:3] == b"\xff\xd8\xff" and not files.has_gps(served)


def test_a_deleted_message_takes_its_file_with_it(request, live, people, opened, room):
    alice = open_as(live, people, opened, "alice", room)
    done = files.upload(alice, files.png(), name="oops.png")
    shown = alice.wait_for("message", lambda m: m["id"] == done["id"])["attachment"]
    assert stored_files(request, live, room) == ["file", "thumb"]
    assert get(people["alice"], live, shown["url"]).status_code == 200
    assert alice.call({"id": done["id"]}, event="delete")["ok"]
    assert get(people["alice"], live, shown["url"]).status_code == 404
    assert get(people["alice"], live, shown["thumbnail"]).status_code == 404
    wait_until(
        lambda: stored_files(request, live, room) == [],
        message="the file and its thumbnail deleted",
    )


def test_many_unfinished_uploads_are_bounded_and_expire(live, people, opened, room):
    alice = open_as(live, people, opened, "alice", room)
    data = b"%PDF-1.4\n" + b"z" * 100_000
    started = [files.start(alice, data, name=f"part{n}.pdf") for n in range(3)]
    for cid, answer in started:
        assert answer["ok"], answer
        files.send_from(alice, cid, data, 0, answer["chunk_size"], stop_at=answer["chunk_size"])
    _, fourth = files.start(alice, data, name="part3.pdf")
    assert fourth["ok"] is False and fourth["reason"] == "pending", fourth
    # On disk: three parts (16 KB each) and their declarations, nothing more.
    assert len(parts_of(live)) == 6
    # ATTACHMENT_PENDING_SECONDS (3 s here) after their last chunk they are gone.
    wait_until(
        lambda: files.start(alice, data, name="part4.pdf")[1].get("ok"),
        timeout=30,
        interval=0.5,
        message="a new upload once the old ones expired",
    )
    assert len(parts_of(live)) == 2  # the new one alone


@pytest.mark.parametrize(
    "payload",
    [
        "not an object",
        {"client_message_id": "abcdefgh1", "offset": 0, "data": "text, not bytes"},
        {"client_message_id": "abcdefgh1", "offset": -1, "data": b"x"},
        {"client_message_id": "abcdefgh1", "offset": 0, "data": b""},
        {"client_message_id": "abcdefgh1", "offset": 0, "data": b"x", "more": 1},
        {"client_message_id": "no", "offset": 0, "data": b"x"},
    ],
)
def test_a_bad_chunk_is_refused_clearly(live, people, opened, room, payload):
    alice = open_as(live, people, opened, "alice", room)
    answer = alice.call(payload, event="upload_chunk")
    assert answer["ok"] is False and answer["error"], answer
    assert alice.call({"text": "still here"})["ok"]


def test_a_binary_frame_over_the_max_payload_closes_the_connection(live, people, opened, room):
    alice = open_as(live, people, opened, "alice", room)
    cid, _ = files.start(alice, b"x" * 20_000, name="a.txt", type="text/plain")
    alice.sio.emit(
        "upload_chunk", {"client_message_id": cid, "offset": 0, "data": b"x" * (16 * 1024 + 1)}
    )
    wait_until(lambda: not alice.sio.connected, message="the connection closed")


def raw_in_room(live, person, room):
    raw = RawSocket(live.url, cookie=person.cookie)
    frames = raw.connect_namespace({"room": room})
    assert any(f.startswith("40") for f in frames), frames
    return raw


def closed(raw):
    """Whether the server closed the raw socket (frames until it does)."""
    try:
        while True:
            raw.recv()
    except Exception:
        return True


@pytest.mark.parametrize(
    "frames",
    [
        # Announces a million attachments: python-socketio would wait for them all.
        ['451000000-["upload_chunk",{"data":{"_placeholder":true,"num":0}}]'],
        # No attachment at all.
        ['450-["upload_chunk",{}]'],
        # A text frame where the binary attachment is due.
        ['451-["upload_chunk",{"data":{"_placeholder":true,"num":0}}]', "4hello"],
        # A placeholder that points past the attachments sent.
        ['451-["upload_chunk",{"data":{"_placeholder":true,"num":5}}]', b"bytes"],
    ],
)
def test_a_malformed_binary_packet_closes_the_connection(live, people, room, frames):
    raw = raw_in_room(live, people["alice"], room)
    raw.ws.settimeout(10)
    for frame in frames:
        if isinstance(frame, bytes):
            raw.ws.send_binary(frame)
        else:
            raw.send(frame)
    assert closed(raw)


def test_a_standard_client_sends_a_binary_event_raw(live, people, room):
    """The frames a reference Socket.IO client sends for an emit with a Buffer."""
    raw = raw_in_room(live, people["alice"], room)
    start = {"client_message_id": "rawclient1", "name": "r.txt", "size": 5, "type": "text/plain"}
    raw.send("421" + json.dumps(["upload_start", start]))
    assert json.loads(wait_for_ack(raw, "431"))[0]["offset"] == 0
    chunk = {
        "client_message_id": "rawclient1",
        "offset": 0,
        "data": {"_placeholder": True, "num": 0},
    }
    raw.send("451-2" + json.dumps(["upload_chunk", chunk]))
    raw.ws.send_binary(b"hello")
    answer = json.loads(wait_for_ack(raw, "432"))[0]
    assert answer["ok"] and answer["offset"] == 5 and answer["id"], answer
    raw.close()


def wait_for_ack(raw, prefix):
    while True:
        frame = raw.recv()
        if isinstance(frame, str) and frame.startswith(prefix):
            return frame[len(prefix) :]


@pytest.fixture(scope="module")
def strict(module_servers):
    """A server with low limits: 2 new files a minute, 60,000 bytes stored per
    user, and a frame budget of 10 frames then 100 a second."""
    return module_servers.start(
        ATTACHMENTS_PER_MINUTE="2",
        ATTACHMENT_QUOTA_BYTES="60000",
        FRAME_RATE_BURST="10",
        FRAME_RATE_PER_SECOND="100",
    )


@pytest.fixture(scope="module")
def strict_people(strict):
    return {name: login(strict.url, name, DEMO_PASSWORD) for name in ("alice", "bob")}


def test_files_per_minute_and_the_quota_are_per_user(strict, strict_people, opened):
    alice = open_as(strict, strict_people, opened, "alice", "general")
    bob = open_as(strict, strict_people, opened, "bob", "general")
    first = files.upload(alice, b"a" * 40000, name="a.txt", type="text/plain")
    assert first["ok"], first
    # 40,000 stored + 30,000 > 60,000: refused at the declaration.
    _, over = files.start(alice, b"b" * 30000, name="b.txt", type="text/plain")
    assert over["ok"] is False and over["reason"] == "quota", over
    second = files.upload(alice, b"c" * 9000, name="c.txt", type="text/plain")
    assert second["ok"], second
    # A third new file within the minute: refused, and says when to try again.
    _, third = files.start(alice, b"d" * 10, name="d.txt", type="text/plain")
    assert third["ok"] is False and third["retry_after"] >= 1, third
    assert "too fast" in third["error"]
    # bob has budgets of his own.
    assert files.upload(bob, b"e" * 10, name="e.txt", type="text/plain")["ok"]
    # A deleted message's file no longer counts.
    assert alice.call({"id": first["id"]}, event="delete")["ok"]
    assert rules_stored(strict, "alice") == 9000


def rules_stored(live, username):
    code = (
        "from chat.attachments.rules import stored_bytes; "
        "from django.contrib.auth import get_user_model; "
        f"print(stored_bytes(get_user_model().objects.get(username={username!r}).pk))"
    )
    return int(live.manage("shell", "-c", code).strip().splitlines()[-1])


def test_a_file_faster_than_the_frame_budget_is_slowed_down_not_closed(
    strict, strict_people, opened
):
    bob = open_as(strict, strict_people, opened, "bob", "cats")
    data = b"%PDF-1.4\n" + b"p" * (40 * 1024)  # 41 chunks of 1 KB at full speed
    cid, started = files.start(bob, data, name="slow.pdf", type="application/pdf")
    assert started["ok"], started
    done = files.send_from(bob, cid, data, 0, 1024)
    assert done["ok"] and "id" in done, done
    assert bob.sio.connected
    # Text frames past the budget still close the connection.
    for n in range(200):
        if not bob.sio.connected:
            break
        bob.sio.emit("typing", {"typing": bool(n % 2)})
    wait_until(lambda: not bob.sio.connected, message="the flood closed")


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ("upload_start", None),
        ("upload_start", ["x"]),
        ("upload_start", {"client_message_id": "abcdefgh9", "name": "a", "size": 1, "x": 1}),
        ("upload_start", {"client_message_id": "abcdefgh9", "name": "a", "size": -1}),
        ("upload_start", {"client_message_id": "abcdefgh9", "name": ["a"], "size": 1}),
        ("upload_cancel", {}),
        ("upload_cancel", {"client_message_id": 7}),
        ("upload_cancel", {"client_message_id": "abcdefgh9", "more": True}),
    ],
)
def test_bad_upload_payloads_get_a_clear_error(live, people, opened, room, event, payload):
    alice = open_as(live, people, opened, "alice", room)
    answer = alice.sio.call(event, payload, timeout=10)
    assert answer["ok"] is False and answer["error"], answer


def test_a_muted_user_cannot_send_a_file(live, people, opened, room):
    live.manage(
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model; "
        "get_user_model().objects.filter(username='bob').update(is_staff=True)",
    )
    bob = open_as(live, people, opened, "bob", room)
    carol = open_as(live, people, opened, "carol", room)
    assert bob.call({"user": "carol", "minutes": 5}, event="mute")["ok"]
    _, answer = files.start(carol, b"x" * 10, name="x.txt", type="text/plain")
    assert answer["ok"] is False and "muted" in answer["error"], answer
