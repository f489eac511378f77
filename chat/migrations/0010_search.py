"""Search (chat.search): FTS5 on SQLite, a generated tsvector column with a GIN
index on PostgreSQL; the unmanaged model PostgreSQL's search reads it through;
and a room whose address was "search" moves (/chat/search/ is the search page)."""

import django.contrib.postgres.search
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# English stemming without English stop words: "to be or not to be" is a
# phrase people look for, and SQLite's FTS5 (porter) drops none either.
POSTGRES_ADD = [
    "CREATE TEXT SEARCH DICTIONARY d09_english_stem (TEMPLATE = snowball, LANGUAGE = english)",
    "CREATE TEXT SEARCH CONFIGURATION d09_english (COPY = english)",
    "ALTER TEXT SEARCH CONFIGURATION d09_english ALTER MAPPING FOR "
    "asciiword, word, numword, asciihword, hword, numhword, hword_asciipart, hword_part, "
    "hword_numpart WITH d09_english_stem",
    "ALTER TABLE chat_message ADD COLUMN search tsvector "
    "GENERATED ALWAYS AS (to_tsvector('d09_english'::regconfig, text)) STORED",
    "CREATE INDEX chat_message_search ON chat_message USING GIN (search)",
]
POSTGRES_REMOVE = [
    "DROP INDEX IF EXISTS chat_message_search",
    "ALTER TABLE chat_message DROP COLUMN IF EXISTS search",
    "DROP TEXT SEARCH CONFIGURATION IF EXISTS d09_english",
    "DROP TEXT SEARCH DICTIONARY IF EXISTS d09_english_stem",
]


def _index(postgres_statements, sqlite_change):
    def change(apps, schema_editor):
        from chat.search import sqlite

        with schema_editor.connection.cursor() as cursor:
            if schema_editor.connection.vendor == "postgresql":
                for statement in postgres_statements:
                    cursor.execute(statement)
            elif schema_editor.connection.vendor == "sqlite":
                getattr(sqlite, sqlite_change)(cursor)

    return change


add_index = _index(POSTGRES_ADD, "install")
remove_index = _index(POSTGRES_REMOVE, "uninstall")


def move_search_room(apps, schema_editor):
    Room = apps.get_model("chat", "Room")
    slug, number = "search-room", 2
    while Room.objects.filter(slug=slug).exists():
        slug, number = f"search-room-{number}", number + 1
    Room.objects.filter(slug="search").update(slug=slug)


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0009_notifications"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="SearchableMessage",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("text", models.TextField()),
                ("deleted", models.DateTimeField(null=True)),
                ("search", django.contrib.postgres.search.SearchVectorField(null=True)),
                (
                    "author",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "room",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="chat.room",
                    ),
                ),
            ],
            options={"db_table": "chat_message", "managed": False},
        ),
        migrations.RunPython(add_index, remove_index),
        migrations.RunPython(move_search_room, migrations.RunPython.noop),
    ]
