"""A login flood is answered, not queued without end (issue 11): over
HASHES_IN_FLIGHT password hashes on their way, a worker answers the account API
at once with 503, Retry-After and a JSON error the page shows, and the refused
attempt does not count as a failed login."""

import threading

import pytest
import requests

from tests.support.server import DEMO_PASSWORD, csrf_post, login

pytestmark = pytest.mark.server

CROWD = 8


def test_logins_over_the_hashing_limit_get_a_prompt_busy_answer(servers):
    server = servers.start(HASHES_IN_FLIGHT="1")
    sessions = []
    for _ in range(CROWD):
        session = requests.Session()
        session.get(server.url + "/account", timeout=5)  # the CSRF cookie, before the crowd
        sessions.append(session)
    start = threading.Barrier(CROWD)
    answers = []

    def log_in(session):
        start.wait()
        answers.append(
            csrf_post(
                session, server.url, "/account/login", {"username": "bob", "password": "wrong"}
            )
        )

    crowd = [threading.Thread(target=log_in, args=(session,)) for session in sessions]
    for thread in crowd:
        thread.start()
    for thread in crowd:
        thread.join()

    busy = [answer for answer in answers if answer.status_code == 503]
    hashed = [answer for answer in answers if answer.status_code == 400]
    assert len(busy) + len(hashed) == CROWD, [a.status_code for a in answers]
    assert busy and hashed  # one hash at a time: the others were turned away
    for answer in busy:
        assert answer.json() == {
            "ok": False,
            "error": "The server is busy: please try again in a few seconds.",
        }
        assert 1 <= int(answer.headers["Retry-After"]) <= 5
    # Nothing is stuck, and the refusals did not count against bob's logins.
    assert login(server.url, "bob", DEMO_PASSWORD).session.cookies.get("sessionid")
