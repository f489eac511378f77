"""d09.runtime.room_index: a manager with the index of each connection's rooms
behaves as python-socketio's own, whatever the order of what happens."""

import inspect
import itertools
from types import SimpleNamespace

import pytest
import socketio
from hypothesis import given, settings
from hypothesis import strategies as st

from d09.runtime.room_index import OVERRIDDEN, IndexedManager
from tests.support.overrides import assert_override_matches

NAMESPACES = ["/", "/lobby"]
ROOMS = ["general", "random", "user:1", "user:2"]


def manager(cls):
    ids = itertools.count(1)
    made = cls()
    made.set_server(
        SimpleNamespace(
            eio=SimpleNamespace(generate_id=lambda: f"s{next(ids)}"),
            packet_class=socketio.packet.Packet,
        )
    )
    return made


steps = st.lists(
    st.tuples(
        st.sampled_from(["connect", "enter", "leave", "disconnect", "close"]),
        st.integers(0, 5),  # which connection (an Engine.IO session)
        st.sampled_from(NAMESPACES),
        st.sampled_from(ROOMS),
    ),
    max_size=60,
)


def play(made, actions):
    """Run ``actions`` on ``made``; what the manager holds afterwards."""
    for action, session, namespace, room in actions:
        eio_sid = f"e{session}"
        sid = made.sid_from_eio_sid(eio_sid, namespace)
        if action == "connect" and sid is None:
            made.connect(eio_sid, namespace)
        elif action == "enter" and sid is not None:
            made.enter_room(sid, namespace, room)
        elif action == "leave" and sid is not None:
            made.leave_room(sid, namespace, room)
        elif action == "disconnect" and sid is not None:
            made.disconnect(sid, namespace)
        elif action == "close":
            made.close_room(room, namespace)
    return {
        namespace: {room: dict(members) for room, members in rooms.items()}
        for namespace, rooms in made.rooms.items()
    }


@settings(max_examples=300, deadline=None)
@given(steps)
def test_the_indexed_manager_holds_what_python_socketios_holds(actions):
    plain, indexed = manager(socketio.Manager), manager(IndexedManager)
    assert play(indexed, actions) == play(plain, actions)
    for namespace in NAMESPACES:
        for session in range(6):
            sid = plain.sid_from_eio_sid(f"e{session}", namespace)
            assert indexed.sid_from_eio_sid(f"e{session}", namespace) == sid
            if sid is not None:
                assert sorted(indexed.get_rooms(sid, namespace), key=str) == sorted(
                    plain.get_rooms(sid, namespace), key=str
                )


def test_a_disconnect_forgets_the_connection_and_nothing_else():
    made = manager(IndexedManager)
    sids = [made.connect(f"e{n}", "/") for n in range(3)]
    for sid in sids:
        made.enter_room(sid, "/", "general")
    made.enter_room(sids[0], "/", "user:1")
    made.disconnect(sids[0], "/")
    assert ("/", sids[0]) not in made.rooms_of
    assert set(made.rooms["/"]["general"]) == set(sids[1:])
    assert "user:1" not in made.rooms["/"]
    assert sids[0] not in made.rooms["/"][None]
    assert sorted(made.get_rooms(sids[1], "/")) == sorted(["general", sids[1]])


def test_a_disconnect_walks_only_its_own_rooms():
    """The cost of a disconnect does not grow with the rooms of others: the
    namespace's table of rooms is never walked (python-socketio copies it)."""

    class Unwalkable(dict):
        def copy(self):
            raise AssertionError("a disconnect walked every room")

        def items(self):
            raise AssertionError("a disconnect walked every room")

    made = manager(IndexedManager)
    sids = [made.connect(f"e{n}", "/") for n in range(50)]
    for n, sid in enumerate(sids):
        made.enter_room(sid, "/", f"user:{n}")
    made.rooms["/"] = Unwalkable(made.rooms["/"])
    made.disconnect(sids[7], "/")
    assert "user:7" not in made.rooms["/"]
    assert made.get_rooms(sids[8], "/")


@pytest.mark.parametrize("name", sorted(OVERRIDDEN))
def test_each_override_matches_the_library_method(name):
    assert_override_matches(socketio.Manager, IndexedManager, name, OVERRIDDEN[name])


def test_python_socketio_still_leaves_rooms_only_through_basic_leave_room():
    """The index rests on this: the manager changes a room's members only in
    basic_enter_room and basic_leave_room."""
    source = inspect.getsource(socketio.base_manager.BaseManager)
    assert source.count("self.rooms[namespace][room][sid] =") == 1
    assert source.count("del self.rooms[namespace][room][sid]") == 1
