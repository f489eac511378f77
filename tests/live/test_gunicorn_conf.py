"""gunicorn.conf.py refuses several workers without REDIS_URL (issue 5)."""

import importlib.util
import os
import subprocess
from types import SimpleNamespace

import pytest

from tests.support.server import ROOT, VENV_BIN, free_port


def load_config():
    spec = importlib.util.spec_from_file_location("d09_gunicorn_conf", ROOT / "gunicorn.conf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_server(workers):
    return SimpleNamespace(cfg=SimpleNamespace(workers=workers))


@pytest.mark.parametrize("redis_url", ["", "  "])
def test_hook_refuses_several_workers_without_redis(monkeypatch, capsys, redis_url):
    monkeypatch.setenv("REDIS_URL", redis_url)
    with pytest.raises(SystemExit) as stopped:
        load_config().on_starting(fake_server(2))
    assert stopped.value.code == 1
    assert "2 workers but REDIS_URL is not set" in capsys.readouterr().err


def test_hook_accepts_one_worker_or_redis(monkeypatch):
    config = load_config()
    monkeypatch.setenv("REDIS_URL", "")
    config.on_starting(fake_server(1))
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    config.on_starting(fake_server(4))


def start_gunicorn(*args, **env):
    """Run gunicorn as users do, from the project folder; returns the finished process."""
    environ = {**os.environ, "SECRET_KEY": "x" * 50, "REDIS_URL": "", **env}
    return subprocess.run(
        [str(VENV_BIN / "gunicorn"), "-b", f"127.0.0.1:{free_port()}", *args, "sio_server:app"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.server
@pytest.mark.parametrize(
    ("args", "env"),
    [(["-w", "2"], {}), ([], {"WEB_WORKERS": "3"})],
    ids=["-w 2", "WEB_WORKERS=3"],
)
def test_gunicorn_does_not_start_several_workers_without_redis(args, env):
    finished = start_gunicorn(*args, **env)
    assert finished.returncode != 0
    assert "workers but REDIS_URL is not set" in finished.stderr
    assert "Booting worker" not in finished.stderr
