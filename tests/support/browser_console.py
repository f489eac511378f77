"""pytest hook (imported by tests/browser/conftest.py): when a test that used browsers
fails, its report shows each browser's console ("browser console N")."""

import pytest

from tests.support.browser import BrowserFactory, console_text


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing test that used browsers shows each browser's console."""
    report = yield
    factory = getattr(item, "funcargs", {}).get("browsers")
    if report.failed and isinstance(factory, BrowserFactory):
        for number, driver in enumerate(factory.drivers, 1):
            report.sections.append(
                (f"browser console {number} ({report.when})", console_text(driver))
            )
    return report
