"""Web Push against the real server and a push service on loopback (issue 23,
tests/support/push_service.py): what arrives (VAPID checked, payload
decrypted with the subscription's keys), no push while a tab shows the room,
404/410 remove the subscription, the account page's devices, hostile
subscriptions, and a push service that never answers delaying no chat ack."""

import statistics
import time

import pytest

from tests.support.push_service import PushService, vapid_pair
from tests.support.server import DEMO_PASSWORD, csrf_post, login, wait_until
from tests.support.sio import connected

pytestmark = pytest.mark.server

PUSH_OFF = "Push notifications are off on this server (it has no VAPID keys)."


@pytest.fixture(scope="module")
def keys():
    return vapid_pair()


@pytest.fixture(scope="module")
def push_service(keys):
    service = PushService(keys[0])
    yield service
    service.stop()


@pytest.fixture(scope="module")
def live(module_servers, keys):
    public, private = keys
    return module_servers.start(
        VAPID_PUBLIC_KEY=public,
        VAPID_PRIVATE_KEY=private,
        VAPID_SUBJECT="mailto:ops@example.com",
        PUSH_INSECURE_ENDPOINTS="1",  # the loopback service speaks plain http
        PUSH_CONCURRENCY="4",
        PUSH_TIMEOUT="60",  # a hanging service holds its senders through the test
        MESSAGE_RATE_BURST="0",  # the latency test sends 200 lines at once
    )


@pytest.fixture(scope="module")
def people(live):
    return {name: login(live.url, name, DEMO_PASSWORD) for name in ("alice", "bob", "carol")}


@pytest.fixture
def opened(live):
    clients = []

    def open_client(who, room):
        client = connected(live.url, who, room)
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        client.close()


def subscribe(client, subscription):
    answer = client.call(subscription.as_json(), event="push_subscribe")
    assert answer.get("ok"), answer
    return answer["device"]


def devices(live, who):
    answer = who.session.get(live.url + "/account/devices", timeout=10).json()
    assert answer["ok"], answer
    return answer


def test_a_mention_is_pushed_to_the_named_users_devices(live, people, opened, push_service):
    bob = opened(people["bob"], "cats")
    subscribe(bob, push_service.subscription("bob-phone"))
    alice = opened(people["alice"], "random")
    said = alice.post("@bob the build is red")
    arrival = wait_until(lambda: push_service.arrived("bob-phone"), timeout=20, message="a push")[0]
    assert push_service.problems == []
    assert arrival.vapid_ok and arrival.claims["sub"] == "mailto:ops@example.com"
    assert arrival.payload == {
        "title": "alice in #Random",
        "body": "@bob the build is red",
        "url": f"/chat/random/?at={said}",
        "tag": "d09-room-random",
        "badge": arrival.payload["badge"],
    }
    assert isinstance(arrival.payload["badge"], int)
    assert arrival.headers["urgency"] == "high" and int(arrival.headers["ttl"]) > 0


def test_no_push_while_a_tab_shows_the_room(live, people, opened, push_service):
    carol = opened(people["carol"], "random")
    subscribe(carol, push_service.subscription("carol-laptop"))
    assert carol.call({"visible": True}, event="visibility") == {"ok": True}
    alice = opened(people["alice"], "random")
    seen = alice.post("@carol you are reading this")
    carol.wait_for("message", lambda message: message["id"] == seen)
    assert carol.call({"visible": False}, event="visibility") == {"ok": True}
    away = alice.post("@carol and now you are away")
    arrivals = wait_until(lambda: push_service.arrived("carol-laptop"), timeout=20, message="push")
    # Pushes go in order through a few senders: the first to arrive is the one sent.
    assert [a.payload["url"] for a in arrivals] == [f"/chat/random/?at={away}"]
    assert seen  # it was posted, and never pushed


def test_a_deleted_message_and_a_plain_line_are_not_pushed(live, people, opened, push_service):
    bob = opened(people["bob"], "cats")
    subscribe(bob, push_service.subscription("bob-tablet"))
    alice = opened(people["alice"], "general")
    alice.post("a plain line for nobody")
    last = alice.post("@bob this one")
    arrivals = wait_until(lambda: push_service.arrived("bob-tablet"), timeout=20, message="push")
    assert [a.payload["url"] for a in arrivals] == [f"/chat/general/?at={last}"]


@pytest.mark.parametrize("status", ["404", "410"])
def test_a_subscription_the_push_service_forgot_is_removed(
    live, people, opened, push_service, status
):
    carol = opened(people["carol"], "cats")
    device = subscribe(carol, push_service.subscription(f"carol-old-{status}", answer=status))
    assert device in [d["id"] for d in devices(live, people["carol"])["devices"]]
    opened(people["alice"], "general").post("@carol hello old phone")
    wait_until(lambda: push_service.arrived(f"carol-old-{status}"), timeout=20, message="push")
    wait_until(
        lambda: device not in [d["id"] for d in devices(live, people["carol"])["devices"]],
        timeout=20,
        message="the subscription removed",
    )


def test_the_account_page_lists_tests_and_removes_devices(live, people, opened, push_service):
    bob = opened(people["bob"], "cats")
    device = subscribe(bob, push_service.subscription("bob-desk"))
    listed = devices(live, people["bob"])
    assert listed["push"] is True
    assert device in [d["id"] for d in listed["devices"]]
    assert device not in [d["id"] for d in devices(live, people["carol"])["devices"]]
    # Somebody else's device is no device.
    other = csrf_post(people["carol"].session, live.url, f"/account/devices/{device}/test", {})
    assert other.status_code == 404
    sent = csrf_post(people["bob"].session, live.url, f"/account/devices/{device}/test", {})
    assert sent.json() == {"ok": True}
    arrival = wait_until(lambda: push_service.arrived("bob-desk"), timeout=20, message="test")[0]
    assert arrival.payload["tag"] == "d09-test" and arrival.vapid_ok
    gone = csrf_post(people["bob"].session, live.url, f"/account/devices/{device}/remove", {})
    assert gone.json() == {"ok": True}
    assert device not in [d["id"] for d in devices(live, people["bob"])["devices"]]
    assert (
        live
        and people["bob"]
        .session.get(live.url + f"/account/devices/{device}/remove", timeout=10)
        .status_code
        == 405
    )


def test_unsubscribe_forgets_this_browser(live, people, opened, push_service):
    carol = opened(people["carol"], "cats")
    subscription = push_service.subscription("carol-gone")
    device = subscribe(carol, subscription)
    answer = carol.call({"endpoint": subscription.endpoint}, event="push_unsubscribe")
    assert answer == {"ok": True}
    assert device not in [d["id"] for d in devices(live, people["carol"])["devices"]]


def bad_subscriptions(push_service):
    good = push_service.subscription("never-kept").as_json()
    keys = good["keys"]
    return [
        ("not an object", "Send the subscription"),
        ({**good, "extra": 1}, "Unexpected field(s): extra."),
        ({**good, "endpoint": 42}, '"endpoint" must be'),
        ({**good, "endpoint": "ftp://example.com/x"}, '"endpoint" must be an https URL'),
        ({**good, "endpoint": "https://e.example/" + "x" * 2000}, "at most 1000"),
        ({**good, "keys": None}, '"keys" must be'),
        ({**good, "keys": {**keys, "auth": "AAAA"}}, '"keys.auth" must be 16 bytes'),
        ({**good, "keys": {**keys, "p256dh": "!!"}}, '"keys.p256dh" must be 65 bytes'),
        ({**good, "keys": {**keys, "p256dh": "A" * 5000}}, '"keys.p256dh" must be 65 bytes'),
    ]


def test_hostile_subscriptions_are_refused_and_nothing_is_kept(live, people, opened, push_service):
    carol = opened(people["carol"], "cats")
    before = devices(live, people["carol"])["devices"]
    for payload, error in bad_subscriptions(push_service):
        answer = carol.call(payload, event="push_subscribe")
        assert answer["ok"] is False and error in answer["error"], (payload, answer)
    assert devices(live, people["carol"])["devices"] == before
    assert carol.call({"visible": "yes"}, event="visibility") == {
        "ok": False,
        "error": '"visible" must be true or false.',
    }
    assert carol.call({}, event="users")["ok"]  # still connected


def test_a_hanging_push_service_delays_no_chat_ack(live, people, opened, push_service):
    """Every sender stuck on a push service that never answers, and pushes
    queued behind them: the chat's acks stay quick (p99 under 100 ms)."""
    bob = opened(people["bob"], "cats")
    subscribe(bob, push_service.subscription("bob-hangs", answer="hang"))
    alice = opened(people["alice"], "general")
    for number in range(20):  # more than PUSH_CONCURRENCY (4): all stuck, more waiting
        alice.post(f"@bob hang {number}")
    wait_until(
        lambda: len(push_service.arrived("bob-hangs")) >= 4, timeout=30, message="senders stuck"
    )
    carol = opened(people["carol"], "random")
    timings = []
    for number in range(200):
        start = time.perf_counter()
        carol.post(f"line {number} while the push service hangs")
        timings.append((time.perf_counter() - start) * 1000)
    p99 = statistics.quantiles(timings, n=100)[98]
    assert p99 < 100, f"p99 {p99:.1f} ms, median {statistics.median(timings):.1f} ms"
    assert len(push_service.arrived("bob-hangs")) == 4  # the rest still wait their turn


def test_without_vapid_keys_push_is_off_and_says_so(servers):
    # Empty values beat a developer's .env, which `make run` gives a key pair.
    plain = servers.start(VAPID_PUBLIC_KEY="", VAPID_PRIVATE_KEY="")
    alice = login(plain.url, "alice", DEMO_PASSWORD)
    client = connected(plain.url, alice, "general")
    try:
        answer = client.call(
            {"endpoint": "https://push.example/x", "keys": {"p256dh": "A", "auth": "A"}},
            event="push_subscribe",
        )
        assert answer == {"ok": False, "error": PUSH_OFF}
    finally:
        client.close()
    assert alice.session.get(plain.url + "/account/devices", timeout=10).json() == {
        "ok": True,
        "push": False,
        "devices": [],
    }
    page = alice.session.get(plain.url + "/chat/general/", timeout=10).text
    assert 'data-vapid-key=""' in page
