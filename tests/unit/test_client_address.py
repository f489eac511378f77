"""client_address(meta): X-Forwarded-For only from trusted proxies, right-most first."""

import subprocess
import sys

import pytest

from d09.client_address import client_address, parse_trusted_proxies
from tests.support.server import ROOT


def setting_in_a_fresh_process(env):
    """FORWARDED_ALLOW_IPS as d09.settings reads it from ``env`` alone."""
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(repr(settings.FORWARDED_ALLOW_IPS))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "d09.settings", **env},
        capture_output=True,
        text=True,
    )


def address(settings, trusted, remote, forwarded=None):
    settings.FORWARDED_ALLOW_IPS = parse_trusted_proxies(trusted)
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return client_address(meta)


@pytest.mark.parametrize(
    "forwarded", [None, "", "203.0.113.7", "203.0.113.7, 198.51.100.1", "garbage", "::1"]
)
def test_by_default_the_header_is_ignored(settings, forwarded):
    assert address(settings, "", "192.0.2.10", forwarded) == "192.0.2.10"


def test_the_default_setting_trusts_nobody():
    # Not gunicorn's default ("127.0.0.1,::1"): a forged header from a local
    # process, or a proxy on the same host that does not set it, changes nothing.
    result = setting_in_a_fresh_process({"SECRET_KEY": "x" * 50})
    assert result.stdout.strip() == "()", result.stderr


def test_a_peer_that_is_not_trusted_is_the_client(settings):
    assert address(settings, "10.0.0.1", "192.0.2.10", "203.0.113.7") == "192.0.2.10"


@pytest.mark.parametrize(
    ("forwarded", "expected"),
    [
        ("203.0.113.7", "203.0.113.7"),
        # What a client wrote stands left of what the proxy appended.
        ("1.1.1.1, 203.0.113.7", "203.0.113.7"),
        ("1.1.1.1,203.0.113.7", "203.0.113.7"),
        ("  203.0.113.7  ", "203.0.113.7"),
        # Further trusted proxies on the right are skipped.
        ("1.1.1.1, 203.0.113.7, 10.0.0.2", "203.0.113.7"),
        ("203.0.113.7, 10.1.2.3, 10.0.0.2", "203.0.113.7"),
        # Ports, brackets, IPv6, IPv4-mapped IPv6.
        ("203.0.113.7:5000", "203.0.113.7"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("2001:DB8:0:0::1", "2001:db8::1"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        # Not an address: the walk ends at the farthest proxy reached.
        ("203.0.113.7, unknown", "10.0.0.1"),
        ("203.0.113.7, , 10.0.0.2", "10.0.0.2"),
        ("203.0.113.7, [2001:db8::1", "10.0.0.1"),
        # Only proxies, or no header: the farthest proxy reached.
        ("10.0.0.3, 10.0.0.2", "10.0.0.3"),
        ("", "10.0.0.1"),
        (None, "10.0.0.1"),
    ],
)
def test_a_trusted_peer_gives_the_rightmost_untrusted_address(settings, forwarded, expected):
    assert address(settings, "10.0.0.1, 10.0.0.0/8", "10.0.0.1", forwarded) == expected


def test_ipv6_proxies_and_mapped_peers(settings):
    assert address(settings, "::1", "::1", "2001:db8::7") == "2001:db8::7"
    assert address(settings, "127.0.0.1", "::ffff:127.0.0.1", "203.0.113.7") == "203.0.113.7"
    assert address(settings, "127.0.0.0/8", "::1", "203.0.113.7") == "::1"


def test_star_trusts_any_peer_and_takes_one_hop(settings):
    # Heroku-like: the router appends the client; whatever the client sent is left of it.
    assert address(settings, "*", "10.9.8.7", "6.6.6.6, 203.0.113.7") == "203.0.113.7"
    assert address(settings, "*", "10.9.8.7", None) == "10.9.8.7"
    # Networks beside "*" are still skipped inside the header.
    assert address(settings, "*, 10.0.0.0/8", "172.16.0.1", "203.0.113.7, 10.0.0.2") == (
        "203.0.113.7"
    )


def test_a_peer_without_an_ip_address_is_returned_as_given(settings):
    assert address(settings, "10.0.0.1", "", "203.0.113.7") == ""
    assert address(settings, "", "unix:/run/gunicorn.sock") == "unix:/run/gunicorn.sock"


def test_the_setting_may_also_be_given_as_text(settings):
    settings.FORWARDED_ALLOW_IPS = "10.0.0.1"
    meta = {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.7"}
    assert client_address(meta) == "203.0.113.7"


def test_the_setting_is_read_at_each_call(settings):
    meta = {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.7"}
    settings.FORWARDED_ALLOW_IPS = parse_trusted_proxies("10.0.0.1")
    assert client_address(meta) == "203.0.113.7"
    settings.FORWARDED_ALLOW_IPS = ()
    assert client_address(meta) == "10.0.0.1"


@pytest.mark.parametrize("bad", ["10.0.0.1/8", "example.com", "10.0.0.300"])
def test_a_malformed_setting_stops_the_start(bad):
    with pytest.raises(ValueError):
        parse_trusted_proxies(bad)


def test_a_malformed_variable_is_refused_at_start_up():
    result = setting_in_a_fresh_process({"SECRET_KEY": "x" * 50, "FORWARDED_ALLOW_IPS": "proxy"})
    assert result.returncode != 0
    assert "FORWARDED_ALLOW_IPS" in result.stderr


def test_limits_count_an_ipv6_client_by_its_slash_64_and_ipv4_by_its_address():
    from d09.client_address import address_group

    assert address_group("2001:db8:1:2:aaaa::1") == address_group("2001:db8:1:2:bbbb::9")
    assert address_group("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert address_group("2001:db8:1:3::1") != address_group("2001:db8:1:2::1")
    assert address_group("203.0.113.7") == "203.0.113.7"
    assert address_group("not an address") == "not an address"


def test_sessions_not_logged_in_are_counted_per_slash_64(settings):
    from chat.events import Chat

    settings.PENDING_SESSIONS_PER_ADDRESS = 2
    chat = Chat()
    one_machine = [{"REMOTE_ADDR": f"2001:db8:1:2::{n}"} for n in range(1, 4)]
    assert [chat.admit_transport(environ) for environ in one_machine] == [True, True, False]
    assert chat.admit_transport({"REMOTE_ADDR": "2001:db8:1:3::1"})  # another subscriber
