"""chat.backends.redis.OrderedRedisManager against a real Redis: a broadcast
Redis refuses is kept and published again; a gap fill after a renewed
subscription brings edits and deletes, not only new messages."""

import json

import pytest
import redis as redis_library

from chat.backends.redis import OrderedRedisManager
from chat.background import _as_redelivery


@pytest.fixture
def manager(redis_service):
    return OrderedRedisManager(redis_service.fresh_url(), channel="d09-test", write_only=True)


@pytest.fixture
def listener(manager):
    pubsub = redis_library.Redis.from_url(manager.redis_url).pubsub()
    pubsub.subscribe("d09-test")
    pubsub.get_message(timeout=5)  # the subscription's confirmation
    yield pubsub
    pubsub.close()


def published(pubsub):
    message = pubsub.get_message(timeout=5)
    return json.loads(message["data"]) if message else None


def test_a_broadcast_redis_refuses_is_published_again_when_it_answers(
    manager, listener, monkeypatch
):
    manager.emit("message", {"id": 1, "seq": 1}, room="general")
    assert published(listener)["data"] == [{"id": 1, "seq": 1}]

    def refuse(*args, **kwargs):
        raise redis_library.exceptions.ConnectionError("Redis is down")

    monkeypatch.setattr(manager.redis, "publish", refuse)
    monkeypatch.setattr(manager, "_redis_connect", lambda: None)  # stays down
    manager.emit("message", {"id": 2, "seq": 2}, room="general")
    manager.emit("message_deleted", {"id": 1, "seq": 3}, room="general")
    assert len(manager.unsent) == 2
    assert manager.republish() == 0  # still down: kept, in order

    monkeypatch.undo()
    assert manager.republish() == 2
    assert not manager.unsent
    assert [published(listener)["data"] for _ in range(2)] == [
        [{"id": 2, "seq": 2}],
        [{"id": 1, "seq": 3}],
    ]


def test_what_a_renewed_subscription_missed_is_resent_as_the_page_applies_it():
    base = {"text": "t", "deleted": False}
    assert _as_redelivery({**base, "id": 9, "seq": 20}, newest_id=8) == (
        "message",
        {**base, "id": 9, "seq": 20},
    )
    edited = {**base, "id": 5, "seq": 21}
    assert _as_redelivery(edited, newest_id=8) == ("message_updated", edited)
    gone = {**base, "id": 6, "seq": 22, "deleted": True}
    assert _as_redelivery(gone, newest_id=8) == ("message_deleted", {"id": 6, "seq": 22})


def test_the_manager_remembers_the_newest_change_each_room_got(manager):
    manager.delivered("general", {"id": 4, "seq": 10}, new=True)
    manager.delivered("general", {"id": 2, "seq": 12}, new=False)  # an edit of an older one
    manager.resubscribed = True
    manager.pubsub = type("Subscribed", (), {"subscribed": True})()
    assert manager.take_resync() == {"general": (4, 12)}
    assert manager.take_resync() == {}  # once per renewed subscription
