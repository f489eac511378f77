"""chat.notify.push and chat.notify.watching without a server: VAPID keys from
the settings, what a subscription must be, devices, the payload, /sw.js, and
which pages show which room (one process, and several over a real Redis)."""

import pytest
from django.test import Client

from chat.backends.redis import RedisPresence
from chat.models import PushSubscription
from chat.notify import push, watching
from chat.payloads import Refused
from tests.support.push_service import Subscription, vapid_pair

pytestmark = pytest.mark.django_db


def subscription_json(endpoint="https://push.example/abc"):
    return Subscription(endpoint, "201").as_json()


def test_keys_that_make_a_pair_turn_push_on(settings):
    settings.VAPID_PUBLIC_KEY, settings.VAPID_PRIVATE_KEY = vapid_pair()
    keys = push.vapid_keys()
    assert keys is not None and keys.public == settings.VAPID_PUBLIC_KEY


@pytest.mark.parametrize("which", ["none", "public", "mismatch", "garbage"])
def test_missing_or_wrong_keys_leave_push_off(settings, which):
    public, private = vapid_pair()
    other_public, _ = vapid_pair()
    settings.VAPID_PUBLIC_KEY, settings.VAPID_PRIVATE_KEY = {
        "none": ("", ""),
        "public": (public, ""),
        "mismatch": (other_public, private),
        "garbage": (public, "not-a-key!"),
    }[which]
    assert push.vapid_keys() is None


def test_endpoints_must_be_https_unless_allowed(settings):
    settings.PUSH_INSECURE_ENDPOINTS = False
    with pytest.raises(Refused, match="https"):
        push.SUBSCRIPTION.validate(subscription_json("http://push.example/abc"))
    settings.PUSH_INSECURE_ENDPOINTS = True
    assert push.SUBSCRIPTION.validate(subscription_json("http://push.example/abc"))


def test_a_known_endpoint_becomes_the_new_users(alice, bob):
    fields = push.SUBSCRIPTION.validate(subscription_json())
    first = push.subscribe(alice.pk, fields, "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0")
    again = push.subscribe(bob.pk, fields)
    assert first.pk == again.pk
    assert list(PushSubscription.objects.values_list("user__username", flat=True)) == ["bob"]


def test_devices_per_user_are_bounded(settings, alice):
    settings.PUSH_DEVICES_PER_USER = 2
    for number in range(2):
        push.subscribe(
            alice.pk, push.SUBSCRIPTION.validate(subscription_json(f"https://p.example/{number}"))
        )
    with pytest.raises(Refused, match="2 devices already"):
        push.subscribe(
            alice.pk, push.SUBSCRIPTION.validate(subscription_json("https://p.example/x"))
        )
    # The same device again is no new device.
    push.subscribe(alice.pk, push.SUBSCRIPTION.validate(subscription_json("https://p.example/1")))


@pytest.mark.parametrize(
    "agent, name",
    [
        ("Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/140.0", "Firefox on Linux"),
        ("Mozilla/5.0 (Linux; Android 14) Chrome/140.0 Mobile Safari/537.36", "Chrome on Android"),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Version/18.0 Safari/605.1.15",
            "Safari on Mac OS",
        ),
        ("", "A browser"),
    ],
)
def test_a_device_is_named_after_its_browser(agent, name):
    assert push.device_name(agent) == name


def test_the_payload_names_the_sender_and_the_room():
    news = {
        "room": "s",
        "name": "Team",
        "kind": "private",
        "user": "bob",
        "text": "hi",
        "url": "/u",
    }
    assert push.payload(news, 3) == {
        "title": "bob in #Team",
        "body": "hi",
        "url": "/u",
        "tag": "d09-room-s",
        "badge": 3,
    }
    assert push.payload({**news, "kind": "direct"}, 0)["title"] == "bob"


def test_the_service_worker_is_served_at_the_root_for_the_whole_site():
    answer = Client().get("/sw.js")
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/javascript")
    assert answer["Service-Worker-Allowed"] == "/"
    assert b"showNotification" in answer.content
    assert Client().post("/sw.js").status_code == 405


@pytest.fixture(params=["memory", "redis"])
def shown(request):
    if request.param == "memory":
        return lambda: watching.LocalWatching()
    client = request.getfixturevalue("redis_service").fresh()
    return lambda: watching.RedisWatching(RedisPresence(client, ttl=15))


def test_a_room_is_shown_while_a_visible_page_shows_it(shown):
    here = shown()
    here.show("a", 1, "general")
    assert here.showing(1, "general")
    assert not here.showing(1, "random") and not here.showing(2, "general")
    here.show("b", 1, "general")
    here.hide("a")
    assert here.showing(1, "general")
    here.hide("b")
    assert not here.showing(1, "general")


def test_another_workers_visible_page_counts_until_that_worker_dies(redis_service):
    client = redis_service.fresh()
    first = RedisPresence(client, ttl=15)
    second = RedisPresence(client, ttl=15)
    first.heartbeat()
    second.heartbeat()
    watching.RedisWatching(first).show("a", 7, "general")
    other = watching.RedisWatching(second)
    assert other.showing(7, "general")
    first.retire()  # that worker stopped (or stopped heartbeating)
    assert not other.showing(7, "general")
