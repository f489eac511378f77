"""chat.search and /chat/search/: what is found, by whom, and how it is shown.

These tests run on the database the settings name: SQLite (FTS5) here, and the
same module on PostgreSQL through tests/unit/test_on_postgres.py, which
runs it again with DATABASE_URL pointing at a real PostgreSQL server.
"""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.urls import reverse
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from chat import access, messages, search
from chat.connection import Member
from chat.models import Message, Room
from chat.search.query import MAX_TERMS, parse

pytestmark = pytest.mark.django_db


def member_of(user, room):
    private = room.kind != Room.Kind.OPEN
    return Member(user.pk, user.username, room.pk, room.slug, room.name, private=private)


def post(user, room, text):
    wire = messages.store_message(member_of(user, room), text)[0]
    return Message.objects.get(pk=wire["id"])


def found_ids(user, text, room=None, page=1):
    return [result.message.pk for result in search.search(user, text, room, page).results]


@pytest.fixture
def general(db):
    return Room.objects.get(slug="general")


@pytest.fixture
def cats(db):
    return Room.objects.get(slug="cats")


def test_the_backend_is_the_database_s_own():
    expected = "PostgresSearch" if connection.vendor == "postgresql" else "SQLiteSearch"
    assert type(search.backend()).__name__ == expected


# -- the query language -----------------------------------------------------------


def test_words_phrases_filters_and_exclusions_are_parsed():
    query = parse('deploy "build is red" from:alice in:ops -flaky -"not now" x')
    assert query.words == ["deploy", "x"]
    assert query.phrases == [("build", "is", "red")]
    assert query.authors == ["alice"]
    assert query.rooms == ["ops"]
    assert query.excluded == ["flaky", ("not", "now")]


def test_engine_syntax_is_taken_as_words():
    query = parse('NEAR(a b) c* title:x OR "unclosed AND ^y')
    assert query.words == ["near", "a", "b", "c", "title", "x", "or"]
    assert query.phrases == [("unclosed", "and", "y")]


def test_a_query_has_a_bounded_number_of_terms():
    assert len(parse(" ".join(f"w{n}" for n in range(100))).words) == MAX_TERMS


# -- what is found ---------------------------------------------------------------


def test_every_word_must_match_with_stemming(alice, general):
    deployed = post(alice, general, "We deployed the new build")
    post(alice, general, "We deployed nothing")
    assert found_ids(alice, "deploy build") == [deployed.pk]
    assert found_ids(alice, "DEPLOYING builds") == [deployed.pk]


def test_common_words_are_words_too(alice, general):
    hamlet = post(alice, general, "To be, or not to be")
    assert found_ids(alice, '"to be or not to be"') == [hamlet.pk]
    assert found_ids(alice, "not") == [hamlet.pk]


def test_a_phrase_matches_its_words_in_order(alice, general):
    red = post(alice, general, "the build is red again")
    post(alice, general, "red is the build")
    assert found_ids(alice, '"build is red"') == [red.pk]


def test_from_finds_an_author_s_messages(alice, bob, general):
    post(alice, general, "lunch at noon")
    bobs = post(bob, general, "lunch at one")
    assert found_ids(alice, "lunch from:bob") == [bobs.pk]
    assert found_ids(alice, "from:BOB") == [bobs.pk]
    assert search.search(alice, "lunch from:nobody").notes == ["There is no user 'nobody'."]


def test_in_narrows_to_a_room_by_name_or_address(alice, general, cats):
    post(alice, general, "purring sounds")
    in_cats = post(alice, cats, "purring cat")
    assert found_ids(alice, "purring in:cats") == [in_cats.pk]
    assert found_ids(alice, "purring in:Cats") == [in_cats.pk]
    assert found_ids(alice, "purring", room=cats) == [in_cats.pk]
    assert search.search(alice, "purring in:dogs").notes == ["You have no room named 'dogs'."]


def test_an_excluded_word_removes_messages(alice, general):
    kept = post(alice, general, "tests pass")
    post(alice, general, "tests pass but flaky")
    assert found_ids(alice, "tests -flaky") == [kept.pk]


def test_exclusions_alone_search_nothing(alice, general):
    post(alice, general, "anything")
    assert found_ids(alice, "-anything") == []
    assert found_ids(alice, "-nothing") == []


def test_best_matches_first_then_newest_among_equals(alice, general):
    once = post(alice, general, "alpha and many other words to dilute the match here")
    twice = post(alice, general, "alpha alpha")
    equal_old = post(alice, general, "beta")
    equal_new = post(alice, general, "beta")
    assert found_ids(alice, "alpha") == [twice.pk, once.pk]
    assert found_ids(alice, "beta") == [equal_new.pk, equal_old.pk]


def test_results_are_paged(alice, general):
    posted = [post(alice, general, f"paging test {n}") for n in range(search.PAGE_SIZE + 3)]
    first = search.search(alice, "paging")
    second = search.search(alice, "paging", page=2)
    assert first.has_next and not second.has_next
    assert len(first.results) == search.PAGE_SIZE and len(second.results) == 3
    everything = [r.message.pk for r in first.results + second.results]
    assert sorted(everything) == [m.pk for m in posted]


def test_an_edit_changes_what_is_found_at_once(alice, general):
    message = post(alice, general, "the meeting is on monday")
    messages.edit_message(message, "the meeting is on tuesday", member_of(alice, general))
    assert found_ids(alice, "monday") == []
    assert found_ids(alice, "tuesday") == [message.pk]


def test_a_deleted_message_is_never_found(alice, general):
    message = post(alice, general, "secret plans")
    messages.delete_message(message)
    assert found_ids(alice, "secret") == []
    assert found_ids(alice, "from:alice") == []


def test_a_message_removed_from_the_database_leaves_the_index(alice, general):
    message = post(alice, general, "ephemeral words")
    Message.objects.filter(pk=message.pk).delete()
    assert found_ids(alice, "ephemeral") == []


# -- who finds what (chat.access) ---------------------------------------------------


def test_open_rooms_are_found_by_everyone(alice, bob, general):
    message = post(alice, general, "open to all")
    assert found_ids(bob, "open") == [message.pk]


def test_private_rooms_are_found_by_their_members_only(alice, bob, carol, team):
    message = post(alice, team, "private plans")
    assert found_ids(bob, "plans") == [message.pk]
    assert found_ids(carol, "plans") == []
    assert found_ids(carol, "plans in:team") == []


def test_direct_rooms_are_found_by_their_two_people_only(alice, bob, carol):
    room = access.direct_room(alice, bob)
    message = post(alice, room, "between us")
    assert found_ids(alice, "between") == [message.pk]
    assert found_ids(bob, "between") == [message.pk]
    assert found_ids(carol, "between") == []


def test_a_removed_member_no_longer_finds_the_room_s_messages(alice, bob, team):
    message = post(alice, team, "before the removal")
    assert found_ids(bob, "removal") == [message.pk]
    access.remove_member(alice, team, "bob")
    assert found_ids(bob, "removal") == []


def test_a_member_removed_behind_the_server_s_back_finds_nothing(alice, bob, team):
    message = post(alice, team, "behind the back")
    assert found_ids(bob, "behind") == [message.pk]
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM chat_membership WHERE user_id = %s", [bob.pk])
    assert found_ids(bob, "behind") == []


# -- highlighting ---------------------------------------------------------------------


def test_matched_words_are_marked_and_the_rest_stays_text(alice, general):
    post(alice, general, "<b>deployed</b> & done")
    [result] = search.search(alice, "deploy").results
    assert "".join(text for text, _ in result.pieces) == "<b>deployed</b> & done"
    assert [text for text, matched in result.pieces if matched] == ["deployed"]


def test_the_pieces_of_a_marked_text():
    assert search.pieces("a \x02b\x03 c") == [("a ", False), ("b", True), (" c", False)]
    assert search.pieces("") == []


# -- any input is safe --------------------------------------------------------------------


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=st.text(max_size=300))
def test_no_query_raises(alice, general, text):
    search.search(alice, text)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.lists(
        st.sampled_from(
            [
                '"',
                "-",
                "*",
                "NEAR(",
                ")",
                "^",
                ":",
                "from:",
                "in:",
                "AND",
                "OR",
                "NOT",
                "&",
                "|",
                "!",
                "<->",
                "'",
                "\\",
                "\x00",
                "é",
                "漢字",
                "word",
                " ",
                "(",
                "{",
                "+",
                "%",
                "_",
            ]
        ),
        max_size=30,
    ).map("".join)
)
# PostgreSQL refuses a NUL in any string: a name looked up as typed raised.
@example(text="from:\x00")
@example(text="in:\x00")
@example(text="from:a\x00b in:\ud800")
def test_no_query_of_engine_syntax_raises(text):
    user = get_user_model().objects.get_or_create(username="fuzzer")[0]
    search.search(user, text)


# -- the page --------------------------------------------------------------------------------


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


def search_url(**query):
    from urllib.parse import urlencode

    return reverse("chat:search") + "?" + urlencode(query)


def test_the_page_needs_a_login(client):
    response = client.get(search_url(q="x"))
    assert response.status_code == 302


def test_the_page_shows_room_author_time_and_highlighted_text(alice_client, alice, general):
    message = post(alice, general, "<script>alert(1)</script> deployed")
    response = alice_client.get(search_url(q="deploy"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "#General" in html or "#general" in html.lower()
    assert 'class="search-author">alice<' in html
    assert f'datetime="{message.created.isoformat()}"' in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; <mark>deployed</mark>" in html
    assert "<script>alert(1)" not in html
    assert f"?at={message.pk}" in html


def test_a_room_the_reader_may_not_see_is_a_404(client, carol, alice, team):
    client.force_login(carol)
    assert client.get(search_url(q="x", room=team.slug)).status_code == 404
    assert client.get(search_url(q="x", room="no-such-room")).status_code == 404
    # Not an address (PostgreSQL refuses a NUL in a lookup: this was a 500 there).
    assert client.get(search_url(q="x", room="gen\x00eral")).status_code == 404


def test_control_characters_separate_words_and_leave_names():
    query = parse("from:al\x00ice deploy\x00server")
    assert query.authors == ["al"]
    assert query.words == ["ice", "deploy", "server"]


def test_the_page_s_next_page_link_keeps_the_query(alice_client, alice, general):
    for n in range(search.PAGE_SIZE + 1):
        post(alice, general, f"many {n}")
    html = alice_client.get(search_url(q="many", room="general")).content.decode()
    assert 'id="search-next" href="?q=many&amp;room=general&amp;page=2"' in html


@pytest.mark.parametrize("page", ["x", "-3", "99999999999999999999", ""])
def test_a_nonsense_page_number_is_a_page(alice_client, page):
    assert alice_client.get(search_url(q="x", page=page)).status_code == 200


def test_searches_over_the_user_s_budget_are_refused(alice_client, settings):
    settings.SEARCH_RATE_BURST = 2
    settings.SEARCH_RATE_PER_MINUTE = 1
    statuses = [alice_client.get(search_url(q=f"word{n}")).status_code for n in range(3)]
    assert statuses == [200, 200, 429]
    assert "Too many searches" in alice_client.get(search_url(q="again")).content.decode()


def test_a_search_is_refused_at_once_when_the_worker_has_too_many(alice_client, monkeypatch):
    slot = search._slot()
    taken = [slot.acquire(blocking=False) for _ in range(search._in_flight_size)]
    try:
        response = alice_client.get(search_url(q="busy"))
    finally:
        for _ in filter(None, taken):
            slot.release()
    assert response.status_code == 503
    assert response["Retry-After"]


def test_no_room_is_given_the_address_search(alice):
    room = access.create_room(alice, "Search", Room.Kind.OPEN)
    assert room.slug == "search-room"
    assert reverse("chat:search") == "/chat/search/"


def test_the_room_list_and_room_pages_have_the_search_box(alice_client, team):
    for url in (reverse("chat:index"), reverse("chat:room", args=[team.slug])):
        html = alice_client.get(url).content.decode()
        assert 'class="form-control form-control-sm search-box"' in html
    room_html = alice_client.get(reverse("chat:room", args=[team.slug])).content.decode()
    assert f'name="room" value="{team.slug}"' in room_html


# -- opening a result: the room page at a message, and "newer" -------------------------------


def test_newer_gives_the_page_after_a_message_and_whether_more_follow(alice, general):
    from chat import reading

    posted = [post(alice, general, f"n{n}").pk for n in range(5)]
    page, more = reading.newer(general.pk, general.slug, posted[0], 2)
    assert [m["id"] for m in page] == posted[1:3] and more
    page, more = reading.newer(general.pk, general.slug, posted[2], 2)
    assert [m["id"] for m in page] == posted[3:5] and not more


def test_newer_leaves_deleted_messages_out(alice, general):
    from chat import reading

    first, gone, last = (post(alice, general, text) for text in ("a", "b", "c"))
    messages.delete_message(gone)
    page, more = reading.newer(general.pk, general.slug, first.pk, 10)
    assert [m["id"] for m in page] == [last.pk] and not more


@pytest.mark.parametrize(
    ("at", "attribute"),
    [("42", 'data-at="42"'), ("0", None), ("-1", None), ("x", None), ("²", None), ("9" * 30, None)],
)
def test_the_room_page_takes_the_message_to_open_at(alice_client, at, attribute):
    html = alice_client.get(reverse("chat:room", args=["general"]) + "?at=" + at).content.decode()
    if attribute:
        assert attribute in html
    else:
        assert "data-at=" not in html


def test_a_room_s_results_link_to_every_room(alice_client, alice, general):
    html = alice_client.get(search_url(q="a b", room="general")).content.decode()
    assert 'id="search-everywhere" href="?q=a+b"' in html
