"""The search box's language, parsed into a plain structure the backends turn
into their own syntax from single words only.

    deploy failed          words: every one must match (stemmed: "deploy" finds "deployed")
    "build is red"         a phrase: these words, next to each other, in this order
    from:alice             written by alice
    in:ops                 in the room ops (its name or its address)
    -flaky                 not containing this word

Anything else is taken as words: a word is a run of letters and digits
(``\\w``); every other character separates words. So no query can reach the
engine's own syntax (FTS5's ``NEAR``, ``*``, ``:``; PostgreSQL's ``&|!``), and
none raises.
"""

import re
from dataclasses import dataclass, field

MAX_QUERY_LENGTH = 200
MAX_TERMS = 12  # words, phrases and exclusions together: a query stays cheap
MAX_PHRASE_WORDS = 8

_WORD = re.compile(r"\w+")
# A token: an optional "-", then a quoted phrase (closing quote optional) or a
# run of non-space characters.
_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')
_FILTER = re.compile(r"(from|in):(.+)", re.IGNORECASE)
# Control characters (NUL among them: PostgreSQL refuses it in any string, and a
# "from:" or "in:" name is looked up as typed) and lone surrogates (no
# encoding has them) separate words, as spaces do.
_UNUSABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


@dataclass
class Query:
    words: list = field(default_factory=list)  # each a word
    phrases: list = field(default_factory=list)  # each a tuple of 2+ words
    excluded: list = field(default_factory=list)  # each a word or a tuple (phrase)
    authors: list = field(default_factory=list)  # usernames of from:
    rooms: list = field(default_factory=list)  # names of in:

    @property
    def matches_text(self):
        """Whether there is anything to look for in the text (an exclusion
        alone selects nearly everything: it is no search)."""
        return bool(self.words or self.phrases)

    @property
    def empty(self):
        return not (self.matches_text or self.authors or self.rooms)

    def highlighted_words(self):
        """Every word the text is searched for (for the page's explanations)."""
        return [*self.words, *(word for phrase in self.phrases for word in phrase)]


def words_of(text):
    return [word.lower() for word in _WORD.findall(text)]


def parse(text):
    """The Query for ``text``, whatever it holds."""
    query = Query()
    if not isinstance(text, str):
        return query
    terms = 0
    for match in _TOKEN.finditer(_UNUSABLE.sub(" ", text[:MAX_QUERY_LENGTH])):
        if terms >= MAX_TERMS:
            break
        negated, quoted, bare = match.group(1), match.group(2), match.group(3)
        if quoted is not None:
            terms += _add_phrase(query, words_of(quoted)[:MAX_PHRASE_WORDS], bool(negated))
        else:
            terms += _add_bare(query, bare)
    return query


def _add_phrase(query, words, negated):
    if not words:
        return 0
    term = words[0] if len(words) == 1 else tuple(words)
    if negated:
        query.excluded.append(term)
    elif isinstance(term, tuple):
        query.phrases.append(term)
    else:
        query.words.append(term)
    return 1


def _add_bare(query, token):
    found = _FILTER.fullmatch(token)
    if found:
        kind, value = found.group(1).lower(), found.group(2)
        (query.authors if kind == "from" else query.rooms).append(value[:150])
        return 1
    if token.startswith("-") and len(token) > 1:
        words = words_of(token[1:])
        return _add_phrase(query, words, negated=True) if words else 0
    words = words_of(token)
    query.words.extend(words)  # "don't" is the words "don" and "t", as indexed
    return 1 if words else 0
