"""Search at a million messages (issue 24): the data, the search times, the
index size and what the index adds to posting a message.

    # 1,000,000 messages in the rooms bench-0..bench-99 of run.py's bench
    # database (a copy: bench/.work/search-1m.sqlite3), or of a PostgreSQL
    # database run.py prepared (--database-url):
    .venv/bin/python bench/search.py build
    .venv/bin/python bench/search.py build --database-url postgres://...
    # search p50/p95 per kind of query, index size, posting p50/p99 with and
    # without the index (bench/db_stall.py's "message" figure, reused):
    .venv/bin/python bench/search.py measure
    .venv/bin/python bench/search.py measure --database-url postgres://...

Chat p99 while 10 searches a second run is run.py's "search" scenario, on
the same data (run.py --template / --database-url).

The text: messages of 3 to 24 words drawn from a Zipf distribution over a
vocabulary of 4,000 words (a team's words first: "deploy", "build"..., then
made-up words), and two phrases: "the build is red" in 1 message of 50, "roll
back the canary" in 1 of 20,000. Common words are in 5-10 % of the messages,
rare ones (rank 3,000+) in a few dozen. Fixed seed: every run builds the same.
"""

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WORK = BENCH / ".work"
SQLITE_COPY = WORK / "search-1m.sqlite3"
MESSAGES = 1_000_000
ROOMS = [f"bench-{r}" for r in range(100)]

TEAM_WORDS = [
    "the",
    "a",
    "to",
    "is",
    "and",
    "of",
    "in",
    "it",
    "for",
    "on",
    "we",
    "that",
    "this",
    "with",
    "be",
    "deploy",
    "build",
    "test",
    "server",
    "review",
    "release",
    "fix",
    "bug",
    "merge",
    "branch",
    "ticket",
    "meeting",
    "lunch",
    "today",
    "tomorrow",
    "customer",
    "database",
    "query",
    "cache",
    "latency",
    "error",
    "alert",
    "page",
    "design",
    "issue",
    "update",
]
COMMON_PHRASE = "the build is red"
RARE_PHRASE = "roll back the canary"
# What each kind of query looks for (the words are the vocabulary's, by rank).
QUERIES = {
    "common word": ["deploy", "build", "server", "review", "release"],
    "two common words": ["deploy server", "build test", "review release"],
    "rare word": None,  # made-up words of rank 3,000+: see rare_words()
    "common phrase": [f'"{COMMON_PHRASE}"', '"build is red"'],
    "rare phrase": [f'"{RARE_PHRASE}"', '"the canary"'],
    "from: and a word": ["from:bench00007 deploy"],
}
# run.py's "search" scenario: 10 searches a second, these in turn.
LOADED_QUERIES = [
    "deploy",
    '"build is red"',
    "review release",
    "vokaril",
    '"roll back the canary"',
    "server -cache",
]


def vocabulary(rng):
    syllables = ["ka", "ri", "vo", "len", "tu", "mar", "si", "dor", "el", "qua", "zi", "pen"]
    made_up = set()
    while len(made_up) < 4000 - len(TEAM_WORDS):
        made_up.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    made_up.discard("vokaril")
    words = TEAM_WORDS + sorted(made_up)
    words[3500] = "vokaril"  # a rare word the loaded scenario looks for
    return words


def rare_words():
    words = vocabulary(random.Random(24))
    return [words[3000], words[3200], words[3400], words[3600], words[3800]]


def texts(count):
    rng = random.Random(24)
    words = vocabulary(rng)
    weights = [1 / (rank + 1) ** 1.07 for rank in range(len(words))]
    for n in range(count):
        chosen = rng.choices(words, weights, k=rng.randint(3, 24))
        if n % 50 == 7:
            chosen.insert(rng.randint(0, len(chosen)), COMMON_PHRASE)
        if n % 20_000 == 11:
            chosen.insert(rng.randint(0, len(chosen)), RARE_PHRASE)
        yield " ".join(chosen)


def rows(room_ids, author_ids, count):
    """``(room, author, text, created)`` oldest first, one second apart."""
    start = 1_700_000_000
    for n, text in enumerate(texts(count)):
        created = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(start + n))
        yield (room_ids[n % len(room_ids)], author_ids[n % len(author_ids)], text, created)


# -- building ------------------------------------------------------------------------


def build_sqlite():
    import sqlite3

    template = WORK / "template.sqlite3"
    if not template.exists():
        sys.exit("No bench/.work/template.sqlite3: run bench/run.py once (it prepares it).")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{SQLITE_COPY}{suffix}").unlink(missing_ok=True)
    shutil.copy(template, SQLITE_COPY)
    env = django_env(f"sqlite:///{SQLITE_COPY}")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    db = sqlite3.connect(SQLITE_COPY)
    room_ids, author_ids = ids(db.cursor(), "?")
    started = time.monotonic()
    with db:  # the triggers index every row, as a post would
        db.executemany(
            "INSERT INTO chat_message (room_id, author_id, text, created, client_message_id, "
            "seq, mentions) VALUES (?, ?, ?, ?, '', 0, '[]')",
            rows(room_ids, author_ids, MESSAGES),
        )
    db.execute("INSERT INTO chat_message_fts(chat_message_fts) VALUES ('optimize')")
    db.execute("ANALYZE")
    db.close()
    return {"database": str(SQLITE_COPY), "insert_seconds": round(time.monotonic() - started, 1)}


def build_postgres(url):
    import psycopg2
    from psycopg2.extras import execute_values

    env = django_env(url)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    db = psycopg2.connect(url)
    cursor = db.cursor()
    room_ids, author_ids = ids(cursor, "%s")
    started = time.monotonic()
    batch = []
    for row in rows(room_ids, author_ids, MESSAGES):
        batch.append(row)
        if len(batch) == 20_000:
            insert_pg(cursor, execute_values, batch)
            batch = []
    insert_pg(cursor, execute_values, batch)
    db.commit()
    db.autocommit = True
    cursor.execute("VACUUM ANALYZE chat_message")
    db.close()
    return {"database": url, "insert_seconds": round(time.monotonic() - started, 1)}


def insert_pg(cursor, execute_values, batch):
    if batch:
        execute_values(
            cursor,
            "INSERT INTO chat_message (room_id, author_id, text, created, client_message_id, "
            "seq, mentions) VALUES %s",
            batch,
            template="(%s, %s, %s, %s::timestamptz, '', 0, '[]')",
        )


def ids(cursor, mark):
    slots = ", ".join([mark] * len(ROOMS))
    cursor.execute(f"SELECT id FROM chat_room WHERE slug IN ({slots}) ORDER BY id", ROOMS)
    room_ids = [row[0] for row in cursor.fetchall()]
    cursor.execute("SELECT id FROM auth_user WHERE username LIKE 'bench%' ORDER BY id LIMIT 1000")
    return room_ids, [row[0] for row in cursor.fetchall()]


def django_env(url):
    from run import server_env  # run.py imports this module: not at the top

    return server_env(url)


# -- measuring (in a process of its own: Django set up on the database) ------------------


def measure(repeats):
    """Search times per kind of query, as chat.search.search answers the page
    (the rooms a user may read, the backend's ranked query, the page's rows)."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "d09.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection

    from chat import search

    user = get_user_model().objects.get(username="bench00001")
    queries = {**QUERIES, "rare word": rare_words()}
    figures = {}
    for kind, texts_ in queries.items():
        times, found = [], []
        for text in texts_:
            found.append(len(search.search(user, text).results))
            for _ in range(repeats):
                started = time.perf_counter()
                search.search(user, text)
                times.append((time.perf_counter() - started) * 1000)
        figures[kind] = {
            "queries": texts_,
            "results_on_page_1": found,
            "p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(sorted(times)[int(len(times) * 0.95) - 1], 1),
        }
    return {"vendor": connection.vendor, "search": figures, "index": index_size(connection)}


def index_size(connection):
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT SUM(pgsize) FROM dbstat WHERE name LIKE 'chat_message_fts%'")
            index = cursor.fetchone()[0]
            cursor.execute("SELECT SUM(pgsize) FROM dbstat WHERE name = 'chat_message'")
            table = cursor.fetchone()[0]
            return {"index_mb": mb(index), "messages_table_mb": mb(table)}
        cursor.execute(
            "SELECT pg_relation_size('chat_message_search'), SUM(pg_column_size(search)), "
            "pg_table_size('chat_message') FROM chat_message"
        )
        gin, column, table = cursor.fetchone()
        return {
            "gin_index_mb": mb(gin),
            "tsvector_column_mb": mb(column),
            "index_mb": mb(gin + column),
            "messages_table_mb": mb(table),
        }


def mb(size):
    return round((size or 0) / 1024 / 1024, 1)


def posting_cost(url, sessions):
    """bench/db_stall.py's figures (a message stored as the handler stores it)
    with the search index, then without it (SQLite: its triggers dropped;
    PostgreSQL: the column and its GIN index dropped), then the index back."""
    from run import db_stall

    env = {**django_env(url), "BENCH_SESSIONS": str(sessions)}

    def stall():
        return db_stall(env)["store_message_in_handler"]

    with_index = stall()
    toggle_index(url, on=False)
    try:
        without_index = stall()
    finally:
        toggle_index(url, on=True)
    return {"with_index": with_index, "without_index": without_index}


def toggle_index(url, on):
    sys.path.insert(0, str(ROOT))
    import django

    # chat.search and the migration import the models: Django is set up on that
    # database first.
    os.environ.update(django_env(url))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "d09.settings")
    django.setup()
    if url.startswith("sqlite"):
        import sqlite3

        from chat.search import sqlite as fts

        db = sqlite3.connect(url.split("sqlite:///", 1)[1])
        with db:
            for name, body in fts.TRIGGERS.items():
                db.execute(f"CREATE TRIGGER {name} {body}" if on else f"DROP TRIGGER {name}")
            if on:  # what was posted without the triggers leaves no trace behind
                db.execute(f"INSERT INTO {fts.TABLE}({fts.TABLE}) VALUES ('rebuild')")
        db.close()
        return
    import psycopg2

    sys.path.insert(0, str(ROOT / "chat" / "migrations"))
    migration = __import__("0010_search")
    db = psycopg2.connect(url)
    db.autocommit = True
    with db.cursor() as cursor:
        for statement in migration.POSTGRES_ADD[-2:] if on else migration.POSTGRES_REMOVE[:2]:
            cursor.execute(statement)
    db.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["build", "measure", "searches"])
    parser.add_argument("--database-url", help="PostgreSQL (prepared by run.py); else SQLite")
    parser.add_argument("--sessions", help="run.py's sessions file of that database")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{SQLITE_COPY}"
    if args.action == "build":
        result = build_postgres(url) if args.database_url else build_sqlite()
    elif args.action == "searches":  # the child process of "measure": one line of JSON
        print(json.dumps(measure(args.repeats)))
        return
    else:
        env = django_env(url)
        child = subprocess.run(
            [sys.executable, __file__, "searches", "--repeats", str(args.repeats)],
            env={**env, "SEARCH_RATE_BURST": "0"},
            check=True,
            capture_output=True,
            text=True,
        )
        result = json.loads(child.stdout.strip().splitlines()[-1])
        sessions = args.sessions or str(WORK / "sessions.json")
        result["posting"] = posting_cost(url, sessions)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
