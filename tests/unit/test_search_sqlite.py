"""SQLite's search index (chat.search.sqlite): kept by triggers, put back by
every ``migrate`` if a table rebuild dropped them."""

import pytest
from django.db import connection

from chat import search
from chat.apps import search_index_in_place
from chat.models import Message, Room
from chat.search import sqlite

pytestmark = pytest.mark.django_db


def triggers():
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        return {name for (name,) in cursor.fetchall()} & set(sqlite.TRIGGERS)


def test_the_index_and_its_triggers_are_there():
    assert connection.vendor == "sqlite"
    assert triggers() == set(sqlite.TRIGGERS)


def test_triggers_dropped_by_a_table_rebuild_come_back_at_the_next_migrate(alice):
    general = Room.objects.get(slug="general")
    with connection.cursor() as cursor:
        for name in sqlite.TRIGGERS:
            cursor.execute(f"DROP TRIGGER {name}")
    unindexed = Message.objects.create(room=general, author=alice, text="unindexed words")
    assert search.search(alice, "unindexed").results == []

    search_index_in_place(sender=None, using="default")

    assert triggers() == set(sqlite.TRIGGERS)
    assert [r.message.pk for r in search.search(alice, "unindexed").results] == [unindexed.pk]


def test_match_strings_are_quoted_words_only():
    from chat.search.query import parse

    assert sqlite.match_string(parse('a "b c" -d -"e f" NEAR(g')) == (
        '"a" AND "near" AND "g" AND "b c" NOT "d" NOT "e f"'
    )
