"""Procfile hosts: behind a TLS-terminating proxy, Procfile lines, static files."""

import re
from types import SimpleNamespace

import pytest
import requests
import socketio
from django.test import override_settings

from chat.connection import origin_allowed
from tests.support.server import DEMO_PASSWORD, ROOT, LiveServer

PROXY_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
FORWARDED = {"X-Forwarded-Proto": "https"}


def environ(proto=None, host="chat.example.com"):
    env = {"wsgi.url_scheme": "http", "HTTP_HOST": host}
    if proto:
        env["HTTP_X_FORWARDED_PROTO"] = proto
    return env


@override_settings(SECURE_PROXY_SSL_HEADER=PROXY_HEADER, ALLOWED_HOSTS=["chat.example.com"])
def test_origin_check_honours_x_forwarded_proto_when_https_is_on():
    assert origin_allowed("https://chat.example.com", environ("https"))
    assert not origin_allowed("http://chat.example.com", environ("https"))
    assert not origin_allowed("https://chat.example.com", environ())
    assert not origin_allowed("https://evil.example.com", environ("https", "evil.example.com"))


@override_settings(SECURE_PROXY_SSL_HEADER=None, ALLOWED_HOSTS=["chat.example.com"])
def test_origin_check_ignores_x_forwarded_proto_without_https_setting():
    # Without HTTPS=1 nothing says a proxy sets the header: a client could forge it.
    assert not origin_allowed("https://chat.example.com", environ("https"))
    assert origin_allowed("http://chat.example.com", environ("https"))


class ProxiedServer(LiveServer):
    """Checked through the "proxy": plain http is redirected to https."""

    def _answers(self):
        if self.process.poll() is not None:
            raise AssertionError(f"server exited with {self.process.returncode}: {self.tail()}")
        try:
            page = requests.get(self.url + "/account", headers=FORWARDED, timeout=1)
        except (requests.ConnectionError, requests.Timeout):
            return False
        return page.status_code == 200


@pytest.fixture(scope="module")
def proxied_server(module_servers):
    """The app as a Procfile host runs it: HTTPS=1 behind a TLS-terminating proxy."""
    return module_servers.start(server_class=ProxiedServer, HTTPS="1")


def proxied_login(server, username):
    """Log in through the "proxy": X-Forwarded-Proto https, cookies sent by hand
    (they are Secure, and requests would keep them off plain http)."""
    public = server.url.replace("http://", "https://")
    token = requests.get(server.url + "/account", headers=FORWARDED, timeout=10).cookies[
        "csrftoken"
    ]
    answer = requests.post(
        server.url + "/account/login",
        data={"username": username, "password": DEMO_PASSWORD},
        headers={
            **FORWARDED,
            "X-CSRFToken": token,
            "Referer": public + "/account",
            "Cookie": f"csrftoken={token}",
        },
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert "secure" in answer.headers["Set-Cookie"].lower()
    cookie = f"sessionid={answer.cookies['sessionid']}"
    return SimpleNamespace(username=username, headers={**FORWARDED, "Cookie": cookie})


@pytest.mark.server
def test_django_honours_x_forwarded_proto(proxied_server):
    plain = requests.get(proxied_server.url + "/account", allow_redirects=False, timeout=10)
    assert plain.status_code == 301
    assert plain.headers["Location"].startswith("https://")
    proxied = requests.get(proxied_server.url + "/account", headers=FORWARDED, timeout=10)
    assert proxied.status_code == 200
    assert "Strict-Transport-Security" in proxied.headers


@pytest.mark.server
def test_socket_origin_check_behind_the_proxy(proxied_server, clients):
    alice = proxied_login(proxied_server, "alice")
    public = proxied_server.url.replace("http://", "https://")
    tap = clients.open(alice, "general", server=proxied_server, origin=public)
    tap.wait_users(["alice"])

    for origin in (proxied_server.url, "https://evil.example.com"):
        refused = socketio.Client(reconnection=False, websocket_extra_options={"origin": origin})
        with pytest.raises(socketio.exceptions.ConnectionError):
            refused.connect(
                proxied_server.url,
                headers=alice.headers,
                auth={"room": "general"},
                transports=["websocket"],
                wait_timeout=10,
            )


def procfile():
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def test_procfile_web_binds_port_on_all_interfaces_and_release_migrates():
    processes = procfile()
    assert "-b 0.0.0.0:$PORT" in processes["web"]
    assert processes["web"].startswith("gunicorn -k eventlet ")
    assert "--worker-connections ${WORKER_CONNECTIONS:-10000}" in processes["web"]
    assert "manage.py migrate --noinput" in processes["release"]
    assert (ROOT / ".python-version").read_text().strip()


@pytest.mark.server
def test_static_files_have_hashed_names_and_long_cache(server):
    page = requests.get(server.url + "/account", timeout=10).text
    hashed = re.findall(r'(?:href|src)="(/static/[^"]+\.[0-9a-f]{12}\.(?:css|js))"', page)
    assert hashed, page
    answer = requests.get(server.url + hashed[0], timeout=10)
    assert answer.status_code == 200
    assert "immutable" in answer.headers["Cache-Control"]
