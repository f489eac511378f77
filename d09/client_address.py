"""The address a request comes from, aware of trusted proxies and hard to forge.

    from d09.client_address import client_address

    address = client_address(request.META)  # a Django view
    address = client_address(environ)  # a WSGI environ (Socket.IO connect handler)

``client_address(meta)`` takes any WSGI environ or ``request.META`` dict and returns
the client's address as a string (``"203.0.113.7"``, ``"2001:db8::1"``, IPv6 in its
short form, IPv4-mapped IPv6 as IPv4). It reads ``settings.FORWARDED_ALLOW_IPS`` at
each call:

- ``REMOTE_ADDR`` (the direct peer) is the answer unless that peer is a trusted proxy.
  By default nobody is trusted, so ``X-Forwarded-For`` is ignored and cannot be forged.
- When the peer is trusted (its address is in one of the listed networks, or the
  setting is ``*``), ``X-Forwarded-For`` is read from the right: each trusted proxy
  appends the address it got the request from, so the right-most address that is not
  itself a trusted proxy is the client. Anything a client wrote into the header
  stands to the left of that and is never reached.
- Entries may carry a port (``203.0.113.7:5000``, ``[2001:db8::1]:443``) and spaces.
  An entry that is not an address (``unknown``, garbage, an empty item) ends the
  walk: nothing to its left can be trusted, so the answer is the farthest proxy
  reached. The same holds when the header holds only proxies, or is missing.
- With ``*`` any peer is trusted and, unless networks are listed beside it, no
  address in the header is: the client is the right-most entry. That is one proxy
  hop, as on Heroku-like hosts whose router appends the client's address.

The value is never the empty string for a TCP peer; for a peer without an IP address
(a Unix socket) it is ``REMOTE_ADDR`` as given, possibly ``""``.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings

ANY = "*"


def parse_trusted_proxies(value):
    """``FORWARDED_ALLOW_IPS`` text -> a tuple of ``ipaddress`` networks, with ``"*"``
    first when present. Items are comma-separated addresses or networks
    (``10.0.0.1, 10.1.0.0/16, ::1``). A malformed item raises ``ValueError``, as
    gunicorn does for the same variable (host bits set, ``10.0.0.1/8``, included)."""
    items = [item.strip() for item in value.split(",") if item.strip()]
    networks = tuple(ipaddress.ip_network(item) for item in items if item != ANY)
    return (ANY, *networks) if ANY in items else networks


@lru_cache(maxsize=8)
def _parsed(value):
    return parse_trusted_proxies(value)


def _trusted_proxies():
    value = getattr(settings, "FORWARDED_ALLOW_IPS", ())
    if isinstance(value, str):  # tolerated: a test or a settings file giving the text
        value = _parsed(value)
    return ANY in value, tuple(item for item in value if item != ANY)


def _address(text):
    """An ``ipaddress`` address from ``text`` (port, brackets, spaces allowed), or None."""
    text = text.strip()
    if text.startswith("["):  # [2001:db8::1] or [2001:db8::1]:443
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:  # 203.0.113.7:5000
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def client_address(meta):
    """The client's address for the request whose WSGI environ (or ``request.META``)
    is ``meta``: ``REMOTE_ADDR``, or the right-most untrusted ``X-Forwarded-For``
    entry when ``REMOTE_ADDR`` is a trusted proxy (module docstring)."""
    remote = meta.get("REMOTE_ADDR") or ""
    peer = _address(remote)
    trust_any, networks = _trusted_proxies()
    if not trust_any and (peer is None or not any(peer in network for network in networks)):
        return str(peer) if peer is not None else remote
    client = str(peer) if peer is not None else remote
    for entry in reversed((meta.get("HTTP_X_FORWARDED_FOR") or "").split(",")):
        hop = _address(entry)
        if hop is None:
            break
        client = str(hop)
        if not any(hop in network for network in networks):
            break
    return client


def address_group(address):
    """What a limit per address counts: an IPv4 address, or an IPv6 client's /64
    (the block one subscriber usually gets: counting each address of it would
    give one machine 2^64 allowances)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)
