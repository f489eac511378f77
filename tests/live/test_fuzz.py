"""Property-based fuzzing (hypothesis) of the socket-facing rules and handlers.

Whatever a client sends, the rules answer with their own exceptions only, and
the live server answers every acked event with ``{"ok": bool, ...}`` and keeps
the connection.
"""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chat import messages
from chat.connection import Refused, parse_auth
from tests.support.raw import RawSocket
from tests.support.server import DEMO_PASSWORD, login

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
payloads = (
    json_values
    | st.fixed_dictionaries({"text": json_values})
    | st.builds(lambda text: {"text": text}, st.text(max_size=2100))
)


@given(payloads)
def test_clean_text_only_ever_refuses_politely(payload):
    try:
        text = messages.clean_text(payload)
    except Refused as rejection:
        assert str(rejection)
    else:
        assert 0 < len(text) <= messages.MAX_MESSAGE_LENGTH
        assert text == text.strip()


@given(json_values | st.fixed_dictionaries({"room": json_values}, optional={"after": json_values}))
def test_parse_auth_only_ever_refuses_politely(auth):
    try:
        request = parse_auth(auth)
    except Refused as refusal:
        assert str(refusal)
    else:
        assert isinstance(request.room_slug, str)


@pytest.fixture(scope="module")
def raw_connection(server):
    alice = login(server.url, "alice", DEMO_PASSWORD)
    raw = RawSocket(server.url, cookie=alice.cookie)
    assert raw.connect_namespace({"room": "random"})[-1].startswith("40{")
    yield raw
    raw.close()


class AckCounter:
    value = 1000


@pytest.mark.server
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(event=st.sampled_from(["message"]) | st.text(max_size=20), payload=payloads)
def test_live_handlers_answer_every_event(raw_connection, event, payload):
    AckCounter.value += 1
    ack_id = AckCounter.value
    raw_connection.send(f"42{ack_id}" + json.dumps([event, payload]))
    prefix = f"43{ack_id}["
    while True:
        frame = raw_connection.recv()
        if frame.startswith(prefix):
            break
    (answer,) = json.loads(frame[len(prefix) - 1 :])
    assert isinstance(answer, dict)
    assert isinstance(answer["ok"], bool)
    assert answer["ok"] or answer["error"]
