"""chat.event_db: how Socket.IO event handlers get their database connection.

Handlers borrow open connections (no connect, and on SQLite no WAL checkpoint,
per event); a connection that saw an error is closed, not lent again;
overlapping handlers never share one; a connection the database dropped while
idle is replaced before use. Each case runs in a fresh process under eventlet,
as the server does, on a real SQLite file or a real PostgreSQL server.
"""

import json
import textwrap

from tests.support.process import run

PRELUDE = textwrap.dedent(
    """
    import eventlet
    eventlet.monkey_patch()
    import json, django
    django.setup()
    from django.core.management import call_command
    call_command("migrate", verbosity=0)
    from django.db import DatabaseError, connections
    from d09.runtime.event_db import event_connections, with_event_db_connection
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


def outcome(tmp_path, body, database="file", **env):
    url = f"sqlite:///{tmp_path / 'chat.sqlite3'}" if database == "file" else database
    result = run(PRELUDE + textwrap.dedent(body), {"DEBUG": "1", "DATABASE_URL": url, **env})
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
        EVENT_DB_IDLE_CONNECTIONS="4",
    )
    assert got["counts"] == [3] * 6
    assert got["connections"] == 6  # all six were open at the same time
    assert got["idle"] == 4  # EVENT_DB_IDLE_CONNECTIONS; the others were closed


def test_postgresql_connections_are_lent_too(tmp_path, postgres_service):
    got = outcome(
        tmp_path,
        """
        kept = event_connections.keep_one_open()
        results = [in_green_thread() for _ in range(3)]
        print(json.dumps({"kept": kept, "results": results,
                          "idle": event_connections.idle_count(),
                          "distinct": len(set(map(id, used)))}))
        """,
        database=postgres_service.new_database(),
    )
    assert got == {"kept": True, "results": [3, 3, 3], "idle": 1, "distinct": 1}


def test_a_connection_the_database_dropped_while_idle_is_replaced(tmp_path, postgres_service):
    url = postgres_service.new_database()
    got = outcome(
        tmp_path,
        f"""
        import psycopg2
        event_connections.health_check_after = 0  # check every lent connection
        first = in_green_thread()
        pid = used[0].connection.get_backend_pid()
        admin = psycopg2.connect({url!r})
        admin.autocommit = True
        admin.cursor().execute("SELECT pg_terminate_backend(%s)", [pid])
        after = in_green_thread()
        print(json.dumps({{"results": [first, after], "replaced": used[1] is not used[0],
                          "idle": event_connections.idle_count()}}))
        """,
        database=url,
    )
    assert got == {"results": [3, 3], "replaced": True, "idle": 1}


def test_an_in_memory_database_gets_a_connection_per_event(tmp_path):
    # Each connection to ":memory:" is a database of its own: nothing to lend.
    got = outcome(
        tmp_path,
        """
        lends = event_connections.lends()
        kept = event_connections.keep_one_open()
        for _ in range(3):
            in_green_thread()
        print(json.dumps({"lends": lends, "kept": kept, "idle": event_connections.idle_count(),
                          "distinct": len(set(map(id, used)))}))
        """,
        database="sqlite:///:memory:",
    )
    assert got == {"lends": False, "kept": False, "idle": 0, "distinct": 3}
