"""Search on SQLite: an FTS5 index of the messages' text.

``chat_message_fts`` is an external-content FTS5 table over ``chat_message``
(it stores the index, not the text again), kept by three triggers: a posted
message is indexed in the transaction that stores it, an edit replaces its
words, a delete (its text emptied) removes them. The tokenizer folds case and
accents and stems English (``porter``): "deploy" finds "deployed".

A MATCH string is built here only from the parsed query's words, each quoted
(a word holds letters and digits alone), so nothing a user types is FTS5
syntax. SQLite never yields to the event loop; its C code lets go of the GIL
while it searches, so the query runs on an OS thread
(d09.runtime.green.on_os_thread) and the loop serves the chat meanwhile.
"""

from django.db import connection

from chat.search.base import MARK_END, MARK_START, Hit
from d09.runtime.green import on_os_thread

TABLE = "chat_message_fts"
TOKENIZER = "porter unicode61 remove_diacritics 2"

_CREATE_TABLE = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {TABLE} USING fts5("
    f"text, content='chat_message', content_rowid='id', tokenize='{TOKENIZER}')"
)
_UNINDEX_OLD = f"INSERT INTO {TABLE}({TABLE}, rowid, text) VALUES ('delete', old.id, old.text);"
_INDEX_NEW = f"INSERT INTO {TABLE}(rowid, text) VALUES (new.id, new.text);"
TRIGGERS = {
    "chat_message_fts_insert": f"AFTER INSERT ON chat_message BEGIN {_INDEX_NEW} END",
    "chat_message_fts_delete": f"AFTER DELETE ON chat_message BEGIN {_UNINDEX_OLD} END",
    "chat_message_fts_update": (
        f"AFTER UPDATE OF text ON chat_message BEGIN {_UNINDEX_OLD} {_INDEX_NEW} END"
    ),
}


def _placeholders(count):
    return ", ".join(["%s"] * count)


def install(cursor):
    """Make the index and its triggers where any is missing, and (re)build the
    index from the messages then. Idempotent: the migration calls it, and so
    does every ``migrate`` (chat.apps), because SQLite's ALTER TABLE in Django
    remakes a table, which drops its triggers."""
    cursor.execute(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger') "
        f"AND name IN ({_placeholders(len(TRIGGERS) + 1)})",
        [TABLE, *TRIGGERS],
    )
    present = {name for (name,) in cursor.fetchall()}
    if present == {TABLE, *TRIGGERS}:
        return False
    cursor.execute(_CREATE_TABLE)
    for name, body in TRIGGERS.items():
        cursor.execute(f"CREATE TRIGGER IF NOT EXISTS {name} {body}")
    cursor.execute(f"INSERT INTO {TABLE}({TABLE}) VALUES ('rebuild')")
    return True


def uninstall(cursor):
    for name in TRIGGERS:
        cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
    cursor.execute(f"DROP TABLE IF EXISTS {TABLE}")


def _quoted(words):
    # Words are \w+ runs: no double quote inside, so plain quoting is exact.
    return '"' + " ".join(words) + '"'


def match_string(query):
    """The FTS5 MATCH string of a Query with words or phrases."""
    positive = [_quoted([word]) for word in query.words]
    positive += [_quoted(phrase) for phrase in query.phrases]
    text = " AND ".join(positive)
    for term in query.excluded:
        text += " NOT " + _quoted(term if isinstance(term, tuple) else [term])
    return text


class SQLiteSearch:
    vendor = "sqlite"

    def find(self, query, room_ids, author_ids, offset, limit):
        """Hits of ``query`` in ``room_ids`` (by ``author_ids`` if any): best
        first (bm25), newest first among equals."""
        sql, params = self._ranked_sql(match_string(query), room_ids, author_ids)
        params += [limit, offset]
        return on_os_thread(connection, self._hits, connection, sql, params, query)

    @staticmethod
    def _ranked_sql(match, room_ids, author_ids):
        where = [f"{TABLE} MATCH %s", "m.deleted IS NULL"]
        params = [match]
        where.append(f"m.room_id IN ({_placeholders(len(room_ids))})")
        params += list(room_ids)
        if author_ids:
            where.append(f"m.author_id IN ({_placeholders(len(author_ids))})")
            params += list(author_ids)
        sql = (
            f"SELECT m.id FROM {TABLE} JOIN chat_message m ON m.id = {TABLE}.rowid "
            f"WHERE {' AND '.join(where)} ORDER BY {TABLE}.rank, m.id DESC LIMIT %s OFFSET %s"
        )
        return sql, params

    @staticmethod
    def _hits(db, sql, params, query):
        with db.cursor() as cursor:
            cursor.execute(sql, params)
            ids = [row[0] for row in cursor.fetchall()]
            if not ids:
                return []
            # Highlighted for the page's rows only (highlight() in the ranked
            # query would run for every match before the sort).
            cursor.execute(
                f"SELECT rowid, highlight({TABLE}, 0, %s, %s) FROM {TABLE} "
                f"WHERE {TABLE} MATCH %s AND rowid IN ({_placeholders(len(ids))})",
                [MARK_START, MARK_END, match_string(query), *ids],
            )
            marked = dict(cursor.fetchall())
        return [Hit(message_id, marked.get(message_id, "")) for message_id in ids]
