"""The search tests (tests/unit/test_search.py) again, on a real PostgreSQL.

pytest-django takes the database from the settings, which read DATABASE_URL
once: so the same module runs in a pytest of its own, pointed at a fresh
database of the PostgreSQL server the test session starts
(tests/support/services.py). Each of its tests must pass there too.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_search_tests_pass_on_postgresql(postgres_service):
    env = {**os.environ, "DATABASE_URL": postgres_service.new_database()}
    finished = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "tests/unit/test_search.py"),
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
    assert "test_the_backend_is_the_database_s_own PASSED" in finished.stdout or (
        " passed" in finished.stdout and "failed" not in finished.stdout
    ), report
