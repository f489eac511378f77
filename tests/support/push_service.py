"""A push service on loopback, standing in for a browser vendor's (FCM,
Mozilla autopush) in the tests of Web Push (issue 23).

Subscriptions the tests make point at ``<url>/push/<name>``. For each request
it checks the VAPID ``Authorization`` header as a real push service does
(py-vapid verifies the ES256 signature with the key it names; the claims must
name this service's origin, expire within 24 h and give a contact) and
decrypts the body with the subscription's private key and auth secret
(http_ece, RFC 8291 aes128gcm): what arrived is kept as ``Arrival``s. It
answers as the subscription's ``answer`` says: 201, 404 or 410, the same
after a delay (``"201 after 2"``: a slow service, for the benchmark), or never
(``"hang"``: the connection stays open without a byte until the service
stops).
"""

import base64
import json
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import http_ece
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def vapid_pair():
    """A VAPID key pair as the server's environment holds it: (public, private)."""
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64url(public), b64url(key.private_numbers().private_value.to_bytes(32, "big"))


@dataclass
class Subscription:
    """A browser's subscription: its endpoint, and the keys only it holds."""

    endpoint: str
    answer: str  # "201", "404", "410", "201 after 2" (seconds) or "hang"
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    def as_json(self):
        """What ``PushSubscription.toJSON()`` gives a page."""
        public = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": b64url(public), "auth": b64url(self.auth)},
        }


@dataclass
class Arrival:
    name: str
    payload: dict | None  # decrypted; None if it could not be
    vapid_ok: bool
    claims: dict
    headers: dict
    at: float


class PushService:
    def __init__(self, vapid_public):
        self.vapid_public = vapid_public  # the key the app server must sign with
        self.subscriptions = {}  # name -> Subscription
        self.arrivals = []
        self.problems = []  # what a real push service would have refused, and why
        self.released = threading.Event()  # lets hanging requests go at the end
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def subscription(self, name, answer="201"):
        subscription = Subscription(f"{self.url}/push/{name}", answer)
        self.subscriptions[name] = subscription
        return subscription

    def arrived(self, name):
        with self._lock:
            return [arrival for arrival in self.arrivals if arrival.name == name]

    def stop(self):
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

    # -- what a request is checked for -------------------------------------------

    def check_vapid(self, header):
        """``(ok, claims)``: the header is ``vapid t=<JWT>,k=<key>``, signed by
        the app server's key, for this origin, not expired, with a contact."""
        try:
            if not Vapid02.verify(header):
                return False, {}
            parts = dict(item.strip().split("=", 1) for item in header.split(" ", 1)[1].split(","))
            claims = json.loads(unb64url(parts["t"].split(".")[1]))
        except Exception as error:  # a malformed header is a refusal, not a crash
            self.problems.append(f"bad Authorization header {header!r}: {error!r}")
            return False, {}
        now = time.time()
        ok = (
            parts["k"] == self.vapid_public
            and claims.get("aud") == self.url
            and now < claims.get("exp", 0) <= now + 24 * 3600
            and str(claims.get("sub", "")).startswith(("mailto:", "https:"))
        )
        if not ok:
            self.problems.append(f"VAPID refused: key {parts['k']!r}, claims {claims!r}")
        return ok, claims

    def decrypt(self, subscription, body):
        try:
            plain = http_ece.decrypt(
                body,
                private_key=subscription.key,
                auth_secret=subscription.auth,
                version="aes128gcm",
            )
            return json.loads(plain)
        except Exception as error:
            self.problems.append(f"could not decrypt a push: {error!r}")
            return None

    def _handler(self):
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                name = self.path.rsplit("/", 1)[-1]
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                subscription = service.subscriptions.get(name)
                if subscription is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                if self.headers.get("Content-Encoding") != "aes128gcm":
                    service.problems.append(
                        f"Content-Encoding {self.headers.get('Content-Encoding')}"
                    )
                vapid_ok, claims = service.check_vapid(self.headers.get("Authorization", ""))
                arrival = Arrival(
                    name,
                    service.decrypt(subscription, body),
                    vapid_ok,
                    claims,
                    {key.lower(): value for key, value in self.headers.items()},
                    time.monotonic(),
                )
                with service._lock:
                    service.arrivals.append(arrival)
                if subscription.answer == "hang":
                    service.released.wait()  # never answers while the test runs
                    return
                status, _, delay = subscription.answer.partition(" after ")
                if delay:  # a slow push service: "201 after 2" (seconds)
                    service.released.wait(float(delay))
                self.send_response(int(status) if vapid_ok else 403)
                self.send_header("Content-Length", "0")
                self.end_headers()

        return Handler


def serve_slow(delay, ready):
    """A push service that answers every push 201 after ``delay`` seconds and
    checks nothing (the benchmark's, in a process of its own: bench/push_load.py).
    Writes its URL to ``ready`` (a file), then counts pushes in ``ready``.count."""
    count = [0]
    lock = threading.Lock()

    class Slow(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            time.sleep(delay)
            self.send_response(201)
            self.send_header("Content-Length", "0")
            self.end_headers()
            with lock:
                count[0] += 1
                Path(f"{ready}.count").write_text(str(count[0]))

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    server.daemon_threads = True
    Path(ready).write_text(f"http://127.0.0.1:{server.server_address[1]}")
    server.serve_forever()


if __name__ == "__main__":
    serve_slow(float(sys.argv[1]), sys.argv[2])
