"""Unit tests whose SQL differs between the databases, again on a real PostgreSQL:
search (FTS5 against a tsvector) and the permission sweep (SQL of its own).

pytest-django takes the database from the settings, which read DATABASE_URL
once: so each module runs in a pytest of its own, pointed at a fresh database
of the PostgreSQL server the test session starts (tests/support/services.py).
Each of its tests must pass there too.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("module", ["tests/unit/test_search.py", "tests/unit/test_standing.py"])
def test_the_module_passes_on_postgresql(postgres_service, module):
    env = {**os.environ, "DATABASE_URL": postgres_service.new_database()}
    finished = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", module),
            *("-q", "-p", "no:cacheprovider", "-o", "addopts=-ra"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = finished.stdout[-6000:] + finished.stderr[-2000:]
    assert finished.returncode == 0, report
    assert " passed" in finished.stdout and "failed" not in finished.stdout, report
