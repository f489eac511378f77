"""Search on PostgreSQL: its full-text search (django.contrib.postgres.search).

``chat_message.search`` is a ``tsvector`` the database computes from the text
(a generated column: an edit or a delete changes it in the same statement) with
a GIN index (migration 0010_search). The query is built from the parsed words
only, each through ``plainto_tsquery`` / ``phraseto_tsquery`` (SearchQuery's
"plain" and "phrase" types, bound parameters): nothing a user types is tsquery
syntax. psycopg2 yields to the event loop while PostgreSQL works (d09.runtime.green).
"""

from functools import reduce
from operator import and_

from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank
from django.db.models import F

from chat.models import SearchableMessage
from chat.search.base import MARK_END, MARK_START, Hit

# English stemming, no stop words (migration 0010_search); the generated column
# is computed with the same configuration.
CONFIG = "d09_english"


def _term(words, negated=False):
    if isinstance(words, tuple):
        term = SearchQuery(" ".join(words), search_type="phrase", config=CONFIG)
    else:
        term = SearchQuery(words, search_type="plain", config=CONFIG)
    return ~term if negated else term


def search_query(query):
    """The SearchQuery of a Query with words or phrases."""
    terms = [_term(word) for word in query.words] + [_term(p) for p in query.phrases]
    terms += [_term(term, negated=True) for term in query.excluded]
    return reduce(and_, terms)


class PostgresSearch:
    vendor = "postgresql"

    def find(self, query, room_ids, author_ids, offset, limit):
        tsquery = search_query(query)
        found = SearchableMessage.objects.filter(
            search=tsquery, deleted__isnull=True, room_id__in=room_ids
        )
        if author_ids:
            found = found.filter(author_id__in=author_ids)
        ids = list(
            found.annotate(rank=SearchRank(F("search"), tsquery))
            .order_by("-rank", "-id")
            .values_list("id", flat=True)[offset : offset + limit]
        )
        marked = dict(
            SearchableMessage.objects.filter(id__in=ids)
            .annotate(
                marked=SearchHeadline(
                    "text",
                    tsquery,
                    config=CONFIG,
                    start_sel=MARK_START,
                    stop_sel=MARK_END,
                    highlight_all=True,
                )
            )
            .values_list("id", "marked")
        )
        return [Hit(message_id, marked.get(message_id, "")) for message_id in ids]
