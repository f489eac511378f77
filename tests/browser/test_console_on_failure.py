"""A failing browser test prints what the browser's console said (issue 15, item 7)."""

import os
import subprocess
import sys
import textwrap

import pytest

from tests.support.server import ROOT

pytestmark = pytest.mark.browser

CONFTEST = """
import pytest

from tests.support.browser import BrowserFactory

pytest_plugins = ["tests.support.browser_console"]


@pytest.fixture
def browsers():
    factory = BrowserFactory()
    yield factory
    factory.quit_all()
"""

FAILING_TEST = """
def test_fails_after_the_page_logged(browsers):
    driver = browsers.new()
    driver.get("data:text/html,<script>console.error('marker ' + 6 * 7)</script>")
    assert driver.execute_script("return 1") == 2
"""


def test_a_failing_browser_test_shows_the_browser_console(tmp_path):
    (tmp_path / "conftest.py").write_text(textwrap.dedent(CONFTEST))
    (tmp_path / "test_failing.py").write_text(textwrap.dedent(FAILING_TEST))
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:django",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
            str(tmp_path),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "browser console 1 (call)" in result.stdout
    assert "marker 42" in result.stdout  # what the page logged, not the script's text
