"""Changes made in the admin reach the open pages as chat changes do, and
take the room's next change number (issue 21, item 5)."""

import re

import pytest
import requests

from tests.support.server import DEMO_PASSWORD, login

pytestmark = pytest.mark.server

ROOT_PASSWORD = "an-admin-password-2026"


@pytest.fixture(scope="module")
def live(module_servers):
    server = module_servers.start()
    server.manage(
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model; "
        f"get_user_model().objects.create_superuser('root', password={ROOT_PASSWORD!r})",
    )
    return server


@pytest.fixture(scope="module")
def admin_session(live):
    session = requests.Session()
    session.get(live.url + "/admin/login/", timeout=10)
    answer = session.post(
        live.url + "/admin/login/?next=/admin/",
        data={
            "username": "root",
            "password": ROOT_PASSWORD,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": live.url + "/admin/login/"},
        timeout=10,
    )
    assert answer.url.endswith("/admin/"), answer.text[:500]
    return session


def admin_post(live, session, path, data):
    page = session.get(live.url + path, timeout=10)
    assert page.status_code == 200, page.status_code
    answer = session.post(
        live.url + path,
        data={**data, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        headers={"Referer": live.url + path},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text[:500]
    return page.text


def field_value(form, name):
    match = re.search(rf'name="{name}"[^>]*value="([^"]*)"', form)
    if match:
        return match.group(1)
    selected = re.search(rf'<select name="{name}".*?<option value="(\d+)" selected', form, re.S)
    return selected.group(1)


def test_an_admin_edit_reaches_open_pages_and_reconnects(live, admin_session, clients):
    alice = clients.open(login(live.url, "alice", DEMO_PASSWORD), "cats", server=live)
    bob = clients.open(login(live.url, "bob", DEMO_PASSWORD), "cats", server=live)
    sent = alice.post("my password is hunter2")
    seq = bob.wait_for("message", lambda m: m["id"] == sent)["seq"]
    path = f"/admin/chat/message/{sent}/change/"
    form = admin_session.get(live.url + path, timeout=10).text
    admin_post(
        live,
        admin_session,
        path,
        {
            "room": field_value(form, "room"),
            "author": field_value(form, "author"),
            "text": "(redacted by an admin)",
        },
    )
    updated = bob.wait_for("message_updated", lambda m: m["id"] == sent)
    assert updated["text"] == "(redacted by an admin)" and updated["seq"] > seq
    # A page coming back with since gets it; a newcomer never sees the old text.
    back = clients.open(
        login(live.url, "bob", DEMO_PASSWORD),
        "cats",
        server=live,
        auth={"room": "cats", "since": seq},
    )
    assert [m["text"] for m in back.wait_for("history")] == ["(redacted by an admin)"]
    newcomer = clients.open(login(live.url, "carol", DEMO_PASSWORD), "cats", server=live)
    assert "hunter2" not in repr(newcomer.wait_for("history"))


def test_an_admin_delete_keeps_the_placeholder_and_reaches_open_pages(live, admin_session, clients):
    bob = clients.open(login(live.url, "bob", DEMO_PASSWORD), "random", server=live)
    sent = bob.post("to be removed by an admin")
    admin_post(live, admin_session, f"/admin/chat/message/{sent}/delete/", {"post": "yes"})
    gone = bob.wait_for("message_deleted", lambda m: m["id"] == sent)
    assert gone["seq"] > 0
    newcomer = clients.open(login(live.url, "carol", DEMO_PASSWORD), "random", server=live)
    assert "removed by an admin" not in repr(newcomer.wait_for("history"))
