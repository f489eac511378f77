"""chat.event_db: how Socket.IO event handlers get their database connection.

On a SQLite file, handlers borrow open connections (no connect and no WAL
checkpoint per event); a connection that saw an error is closed, not lent
again; overlapping handlers never share one. Each case runs in a fresh
process under eventlet, as the server does, on a real SQLite file.
"""

import json
import textwrap

from tests.test_settings import run

PRELUDE = textwrap.dedent(
    """
    import eventlet
    eventlet.monkey_patch()
    import json, django
    django.setup()
    from django.core.management import call_command
    call_command("migrate", verbosity=0)
    from django.db import DatabaseError, connections
    from chat.event_db import event_connections, with_event_db_connection
    from chat.models import Room

    used = []

    @with_event_db_connection
    def handler(fail=False, pause=0):
        connection = connections["default"]
        connection.ensure_connection()
        used.append(connection)  # the wrapper, kept alive: identities stay unique
        eventlet.sleep(pause)  # another green thread runs its event meanwhile
        if fail:
            with connection.cursor() as cursor:
                cursor.execute("SELECT * FROM no_such_table")
        return Room.objects.count()

    def in_green_thread(**kwargs):
        try:
            return eventlet.spawn(handler, **kwargs).wait()
        except DatabaseError as error:
            return type(error).__name__
    """
)


def outcome(tmp_path, body, database="file"):
    url = f"sqlite:///{tmp_path / 'chat.sqlite3'}" if database == "file" else database
    result = run(PRELUDE + textwrap.dedent(body), {"DEBUG": "1", "DATABASE_URL": url})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_events_one_after_another_reuse_one_open_connection(tmp_path):
    got = outcome(
        tmp_path,
        """
        kept = event_connections.keep_one_open()
        counts = [in_green_thread() for _ in range(5)]
        print(json.dumps({"kept": kept, "counts": counts, "connections": len(set(map(id, used))),
                          "idle": event_connections.idle_count()}))
        """,
    )
    assert got == {"kept": True, "counts": [3] * 5, "connections": 1, "idle": 1}


def test_a_connection_that_saw_an_error_is_not_lent_again(tmp_path):
    got = outcome(
        tmp_path,
        """
        first = in_green_thread()
        failed = in_green_thread(fail=True)
        after = in_green_thread()
        print(json.dumps({
            "results": [first, failed, after],
            "failed_was_the_lent_one": used[1] is used[0],
            "failed_closed": used[1].connection is None,
            "next_is_new": used[2] is not used[1],
            "idle": event_connections.idle_count(),
        }))
        """,
    )
    assert got == {
        "results": [3, "OperationalError", 3],
        "failed_was_the_lent_one": True,
        "failed_closed": True,
        "next_is_new": True,
        "idle": 1,
    }


def test_overlapping_events_never_share_a_connection(tmp_path):
    got = outcome(
        tmp_path,
        """
        threads = [eventlet.spawn(handler, pause=0.05) for _ in range(6)]
        counts = [thread.wait() for thread in threads]
        print(json.dumps({"counts": counts, "connections": len(set(map(id, used))),
                          "idle": event_connections.idle_count()}))
        """,
    )
    assert got["counts"] == [3] * 6
    assert got["connections"] == 6  # all six were open at the same time
    assert got["idle"] == 4  # KEEP_IDLE; the others were closed


def test_postgresql_gets_a_connection_per_event_closed_at_its_end(tmp_path, postgres_service):
    got = outcome(
        tmp_path,
        """
        lends = event_connections.lends()
        kept = event_connections.keep_one_open()
        results = [in_green_thread() for _ in range(3)]
        print(json.dumps({"lends": lends, "kept": kept, "results": results,
                          "idle": event_connections.idle_count(),
                          "distinct": len(set(map(id, used))),
                          "all_closed": all(wrapper.connection is None for wrapper in used)}))
        """,
        database=postgres_service.new_database(),
    )
    assert got == {
        "lends": False,
        "kept": False,
        "results": [3, 3, 3],
        "idle": 0,
        "distinct": 3,
        "all_closed": True,
    }
