"""Rules for the front-end sources that no browser test would notice in time."""

import re

import pytest

from tests.support.server import ROOT

OUR_SCRIPTS = sorted(
    path
    for folder in ("account/static", "chat/static", "d09/static")
    for path in (ROOT / folder).rglob("*.js")
)
TEMPLATES = sorted(
    path
    for folder in ("templates", "account/templates", "chat/templates")
    for path in (ROOT / folder).rglob("*.html")
)

# Removed in jQuery 4 (its upgrade guide): our code must keep working on it.
REMOVED_IN_JQUERY_4 = re.compile(
    r"\$\.(isArray|trim|isFunction|isNumeric|isWindow|type|now|parseJSON|camelCase|nodeName"
    r"|cssProps|unique|holdReady)\b|\.(size|andSelf|context|selector)\(\)"
)


def test_the_scripts_are_found():
    assert {p.name for p in OUR_SCRIPTS} >= {"room.js", "socketio-shim.js", "account.js"}


@pytest.mark.parametrize("path", OUR_SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_jquery_api_removed_in_jquery_4(path):
    found = [
        f"{number}: {line.strip()}"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if REMOVED_IN_JQUERY_4.search(line)
    ]
    assert found == []


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_inline_script_or_handler(path):
    """The Content-Security-Policy (script-src 'self') would block them."""
    html = path.read_text()
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert re.findall(r"\son[a-z]+\s*=", html) == []
