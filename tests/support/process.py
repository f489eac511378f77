"""Running Python in a fresh process of the project, for what only a new process
shows (settings read at start-up, monkey-patching, start-up failures)."""

import subprocess
import sys

from tests.support.server import ROOT


def run(code_or_args, env):
    """``python -c code`` (or ``python *args``) in the project folder with only
    ``env`` (plus a PATH) in the environment; the CompletedProcess."""
    args = code_or_args if isinstance(code_or_args, list) else ["-c", code_or_args]
    # An explicit empty value beats the project's .env file (real variables win).
    base = {
        "PATH": "/usr/bin:/bin",
        "SECRET_KEY": "",
        "DEBUG": "",
        "DJANGO_SETTINGS_MODULE": "d09.settings",
    }
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True
    )
