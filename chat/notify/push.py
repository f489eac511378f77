"""Web Push to a user's devices when no page of theirs shows the room.

Libraries: ``webpush`` encrypts the payload for the browser (RFC 8291,
aes128gcm) and ``py-vapid`` signs the VAPID ``Authorization`` header (RFC
8292); pywebpush, the usual choice, needs http_ece, which PyPI has no wheel of
(every runtime pin here is a wheel). The request itself is a plain
``urllib`` POST: under the eventlet (or gevent) worker its socket is green.

Pushes never run on a chat handler's stack: ``send_to_user`` only queues
(bounded: ``PUSH_QUEUE``; beyond it a push is dropped and logged) and
``PUSH_CONCURRENCY`` green threads send them, each request bounded by
``PUSH_TIMEOUT`` per socket operation. A push service that hangs holds a
sender, never the event loop. A 404 or 410 answer removes the subscription.
"""

import base64
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from django.conf import settings
from py_vapid import Vapid02
from webpush import WebPush, WebPushSubscription

from chat import access, reading
from chat.connection import find_room
from chat.models import PushSubscription
from chat.notify import levels
from chat.payloads import Refused, Schema
from d09.offloop import off_loop
from d09.runtime.event_db import with_event_db_connection

logger = logging.getLogger(__name__)

PUSH_OFF = "Push notifications are off on this server (it has no VAPID keys)."
GONE = (404, 410)  # the push service forgot the subscription: remove it
TTL = 24 * 3600  # seconds a push service may keep a push for an offline device
VAPID_VALID = 12 * 3600  # seconds a signed VAPID header is valid (at most 24 h)


def _b64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class VapidKeys:
    public: str  # base64url, as the page gives it to pushManager.subscribe
    signer: Vapid02
    subject: str


def vapid_keys():
    """The server's VAPID keys from the settings, or None: push is off (no
    keys, or keys that do not make a pair: logged)."""
    if not (settings.VAPID_PUBLIC_KEY and settings.VAPID_PRIVATE_KEY):
        return None
    try:
        signer = Vapid02.from_raw(settings.VAPID_PRIVATE_KEY.encode())
        derived = signer.public_key.public_bytes(*_UNCOMPRESSED)
    except (ValueError, TypeError):
        logger.error("VAPID_PRIVATE_KEY is not a base64url P-256 private key: push is off")
        return None
    if _b64(settings.VAPID_PUBLIC_KEY) != derived:
        logger.error("VAPID_PUBLIC_KEY is not the public key of VAPID_PRIVATE_KEY: push is off")
        return None
    return VapidKeys(settings.VAPID_PUBLIC_KEY, signer, settings.VAPID_SUBJECT)


def _uncompressed():
    from cryptography.hazmat.primitives import serialization

    return (serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


_UNCOMPRESSED = _uncompressed()


# -- subscriptions (the ``push_subscribe`` event) -------------------------------


def endpoint_check(value):
    if not isinstance(value, str) or len(value) > 1000:
        raise Refused('"endpoint" must be the push service URL (at most 1000 characters).')
    parts = urllib.parse.urlsplit(value)
    schemes = ("https", "http") if settings.PUSH_INSECURE_ENDPOINTS else ("https",)
    if parts.scheme not in schemes or not parts.hostname:
        raise Refused('"endpoint" must be an https URL of a push service.')
    return value


def _key_check(name, size):
    def check(value):
        try:
            decoded = _b64(value) if isinstance(value, str) and len(value) < 200 else b""
        except ValueError:
            decoded = b""
        if len(decoded) != size:
            raise Refused(f'"keys.{name}" must be {size} bytes in base64url.')
        return value

    return check


KEYS = Schema(
    not_an_object='"keys" must be {"p256dh": str, "auth": str}.',
    fields={"p256dh": _key_check("p256dh", 65), "auth": _key_check("auth", 16)},
)
SUBSCRIPTION = Schema(
    not_an_object='Send the subscription: {"endpoint": url, "keys": {"p256dh", "auth"}}.',
    fields={
        "endpoint": endpoint_check,
        "keys": KEYS.validate,
        # PushSubscription.toJSON() has it: accepted and ignored.
        "expirationTime": lambda value: value,
    },
)
UNSUBSCRIBE = Schema(not_an_object='Send {"endpoint": url}.', fields={"endpoint": endpoint_check})


def subscribe(user_id, subscription, user_agent=""):
    """Keep the device ``subscription`` (validated) for ``user_id``; an endpoint
    known already (the same browser, perhaps another account before) becomes
    this user's. Refused beyond PUSH_DEVICES_PER_USER devices."""
    endpoint = subscription["endpoint"]
    others = PushSubscription.objects.filter(user_id=user_id).exclude(endpoint=endpoint)
    if others.count() >= settings.PUSH_DEVICES_PER_USER:
        raise Refused(
            f"You have {settings.PUSH_DEVICES_PER_USER} devices already: remove one on the"
            " account page first."
        )
    device, _ = PushSubscription.objects.update_or_create(
        endpoint=endpoint,
        defaults={
            "user_id": user_id,
            "p256dh": subscription["keys"]["p256dh"],
            "auth": subscription["keys"]["auth"],
            "user_agent": user_agent[:300],
        },
    )
    return device


def unsubscribe(user_id, endpoint):
    PushSubscription.objects.filter(user_id=user_id, endpoint=endpoint).delete()


# -- what a push says --------------------------------------------------------------


def payload(news, badge):
    """The JSON the service worker shows (chat/templates/chat/sw.js)."""
    where = "" if news["kind"] == "direct" else f" in #{news['name']}"
    return {
        "title": f"{news['user']}{where}",
        "body": news["text"],
        "url": news["url"],
        "tag": f"d09-room-{news['room']}",
        "badge": badge,
    }


def _json(body):
    return json.dumps(body).encode()


def test_payload():
    return {
        "title": "d09",
        "body": "A test notification: push works on this device.",
        "url": "/chat/",
        "tag": "d09-test",
        "badge": 0,
    }


# -- sending -----------------------------------------------------------------------


_sender = None  # this process's PushSender (the account page's test button uses it)


def push_sender(server):
    """This process's sender, started; None when push is off (no VAPID keys)."""
    global _sender
    keys = vapid_keys()
    if keys is None:
        logger.info("push notifications are off: no VAPID keys")
        return None
    _sender = PushSender(server, keys).start()
    return _sender


def sender():
    return _sender


# -- the account page's devices ---------------------------------------------------


def device_name(user_agent):
    """A short name for a device from its browser's User-Agent."""
    for browser in ("Edg", "OPR", "Firefox", "Chrome", "Safari"):
        if browser in user_agent:
            system = next(
                (
                    name
                    for name in ("Android", "iPhone", "iPad", "Windows", "Mac OS", "Linux")
                    if name in user_agent
                ),
                "",
            )
            name = {"Edg": "Edge", "OPR": "Opera"}.get(browser, browser)
            return f"{name} on {system}" if system else name
    return "A browser"


def devices_of(user_id):
    return [
        {"id": device.pk, "name": device_name(device.user_agent), "created": device.created}
        for device in PushSubscription.objects.filter(user_id=user_id)
    ]


def device_of(user_id, device_id):
    """The user's device ``device_id``, or None (someone else's is no device)."""
    return PushSubscription.objects.filter(user_id=user_id, pk=device_id).first()


class PushSender:
    """Queues pushes and sends them from ``PUSH_CONCURRENCY`` background green
    threads of ``server`` (its async mode's own: green under eventlet)."""

    def __init__(self, server, keys):
        self.server = server
        self.keys = keys
        self._queue = server.eio.create_queue()
        self._encrypter = WebPush(
            private_key=keys.signer.private_pem(),
            public_key=keys.signer.public_pem(),
            subscriber="d09@localhost",  # for webpush's own header, unused
        )
        self._signed = {}  # audience -> (Authorization header, when it expires)
        self.sent = 0
        self.dropped = 0

    def start(self):
        for _ in range(settings.PUSH_CONCURRENCY):
            self.server.start_background_task(self._work)
        return self

    def send_to_user(self, user_id, news):
        """Push ``news`` (a ``notification``) to every device of ``user_id``."""
        self._put(("message", user_id, news))

    def send_test(self, device_id):
        self._put(("test", device_id, None))

    def _put(self, job):
        if self._queue.qsize() >= settings.PUSH_QUEUE:
            self.dropped += 1
            logger.warning("push queue full (%s): a push was dropped", settings.PUSH_QUEUE)
            return
        self._queue.put(job)

    def _work(self):
        while True:
            job = self._queue.get()
            try:
                self._run(*job)
            except Exception:
                logger.exception("a push failed")

    def _run(self, kind, target, news):
        # The database is borrowed before and after the request, never during
        # it: a push service that hangs must not hold a connection.
        devices, data = self._prepare(kind, target, news)
        for device in devices:
            status = self._deliver(device, data)
            if status in GONE:
                logger.info("device %s is gone (%s): removed", device.pk, status)
                self._forget(device.pk)

    @with_event_db_connection
    def _prepare(self, kind, target, news):
        """The devices to push to, and the payload (none if not wanted now)."""
        if kind == "test":
            return list(PushSubscription.objects.filter(pk=target)), _json(test_payload())
        devices = list(PushSubscription.objects.filter(user_id=target))
        if not devices or not self._still_wanted(target, news):
            return [], b""
        badge = reading.unread_count(target, find_room(news["room"]).pk)
        return devices, _json(payload(news, badge))

    @staticmethod
    @with_event_db_connection
    def _forget(device_id):
        PushSubscription.objects.filter(pk=device_id).delete()

    @staticmethod
    def _still_wanted(user_id, news):
        """Read again just before sending: the message not deleted meanwhile,
        the room still visible to the user."""
        room = find_room(news["room"])
        return not levels.is_deleted(news["id"]) and access.may_see(user_id, room.pk, room.kind)

    def _deliver(self, device, data):
        """POST the push; the push service's status, or None when it could
        not be reached in time."""
        request = urllib.request.Request(
            device.endpoint,
            # The encryption (an ECDH key pair, HKDF, AES-GCM, and webpush's own
            # signed header) is a few milliseconds of CPU a push: a message that
            # names ten away users held the event loop for tens of them
            # (bench/README.md, "Web Push"). It runs on an OS thread.
            data=off_loop(self._encrypt, device, data),
            method="POST",
            headers={
                "Authorization": self._authorization(device.endpoint),
                "Content-Encoding": "aes128gcm",
                "Content-Type": "application/octet-stream",
                "TTL": str(TTL),
                "Urgency": "high",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=settings.PUSH_TIMEOUT) as answer:
                status = answer.status
        except urllib.error.HTTPError as error:
            status = error.code
        except OSError as error:  # refused, unreachable, timed out
            logger.warning("push to device %s failed: %r", device.pk, error)
            return None
        if status < 300:
            self.sent += 1
        elif status not in GONE:
            logger.warning("push to device %s answered %s", device.pk, status)
        return status

    def _encrypt(self, device, data):
        """The payload encrypted for the device (webpush; its own VAPID header,
        whose audience leaves out the port, is not used: py-vapid's is)."""
        subscription = WebPushSubscription(
            endpoint=device.endpoint, keys={"p256dh": device.p256dh, "auth": device.auth}
        )
        return self._encrypter.get(data, subscription).encrypted

    def _authorization(self, endpoint):
        """A VAPID header for the push service's origin, signed once per
        ``VAPID_VALID / 2``: signing is cheap, but not free under a flood."""
        parts = urllib.parse.urlsplit(endpoint)
        audience = f"{parts.scheme}://{parts.netloc}"
        header, until = self._signed.get(audience, (None, 0))
        now = time.time()
        if header is None or until - now < VAPID_VALID / 2:
            claims = {"aud": audience, "exp": int(now) + VAPID_VALID, "sub": self.keys.subject}
            header = off_loop(self.keys.signer.sign, claims)["Authorization"]
            self._signed[audience] = (header, int(now) + VAPID_VALID)
        return header
