"""The app builds and starts as a Procfile host (a Python buildpack) builds and
starts it, with none of the Makefile's help: a fresh clone, a fresh virtualenv,
the newest pip and setuptools, ``pip install --no-cache-dir -r requirements.txt``
with no constraints, ``collectstatic`` with DEBUG off, the Procfile's
``release:`` line, then its ``web:`` line with ``$PORT`` set. Against that
process: a signup and a login over the account API, and a message sent and
received over the WebSocket."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import requests

from tests.support.server import ROOT, csrf_post, free_port, login, wait_until
from tests.support.sio import connected

pytestmark = pytest.mark.server

PASSWORD = "a-buildpack-password-2026"


def host_environment(**extra):
    """What a buildpack's dyno has: a PATH and the app's config vars, none of
    this session's pip, Django or test settings."""
    keep = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root")}
    return {**keep, "LANG": "C.UTF-8", **extra}


def sh(command, cwd, env, timeout=900):
    result = subprocess.run(
        ["bash", "-c", command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def fresh_clone(folder):
    """A clone of what is committed (plus tracked changes not yet committed, so
    a developer's run checks their work): untracked files are not in it."""
    snapshot = subprocess.run(
        ["git", "stash", "create"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    subprocess.run(["git", "clone", "--quiet", "--no-checkout", str(ROOT), str(folder)], check=True)
    subprocess.run(["git", "checkout", "--quiet", snapshot or "HEAD"], cwd=folder, check=True)
    return folder


def procfile(app):
    lines = (app / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


@pytest.fixture(scope="module")
def built_app():
    """The app, built as a buildpack builds it; its folder and environment."""
    folder = Path(tempfile.mkdtemp(prefix="d09-buildpack-"))
    app = fresh_clone(folder / "app")
    python = (app / ".python-version").read_text().strip()
    assert sys.version_info[:2] == tuple(int(part) for part in python.split(".")[:2]), (
        f".python-version says {python}; the tests run on {sys.version}"
    )
    venv = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = host_environment(
        PATH=f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        VIRTUAL_ENV=str(venv),
        PIP_NO_CACHE_DIR="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    sh("pip install --quiet --upgrade pip setuptools wheel", app, env)
    sh("pip install --quiet --no-cache-dir -r requirements.txt", app, env)
    # Build time: DEBUG off, no real secret (config vars may be missing there).
    sh("python manage.py collectstatic --noinput", app, {**env, "SECRET_KEY": "build-only"})
    assert (app / "staticfiles" / "staticfiles.json").exists()
    yield app, env
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def released_web(built_app):
    """The Procfile's release line, then its web line, with the host's config."""
    app, env = built_app
    port = free_port()
    config = {
        **env,
        "SECRET_KEY": "a-config-var-secret-" + "x" * 40,
        "DATABASE_URL": f"sqlite:///{app / 'host.sqlite3'}",
        "PORT": str(port),
    }
    lines = procfile(app)
    sh(lines["release"], app, config)
    log = open(app / "web.log", "w")  # noqa: SIM115 (closed below)
    web = subprocess.Popen(
        ["bash", "-c", "exec " + lines["web"]],
        cwd=app,
        env=config,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"

    def answers():
        assert web.poll() is None, (app / "web.log").read_text()[-3000:]
        try:
            return requests.get(url + "/account", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    try:
        try:
            wait_until(answers, timeout=60, message="the Procfile's web process")
        except AssertionError as error:
            raise AssertionError(f"{error}\n{(app / 'web.log').read_text()[-3000:]}") from None
        yield url, app
    finally:
        web.terminate()
        try:
            web.wait(timeout=20)
        except subprocess.TimeoutExpired:
            web.kill()
        log.close()


def sign_up(url, username):
    session = requests.Session()
    answer = csrf_post(
        session,
        url,
        "/account/signup",
        {"username": username, "password1": PASSWORD, "password2": PASSWORD},
    )
    assert answer.status_code == 200, answer.text


def test_requirements_install_from_wheels_only(built_app):
    # A source package needs a build (and build tools a host may lack): the
    # pinned list must be all wheels, for this Python, so no build can break.
    app, env = built_app
    folder = tempfile.mkdtemp(prefix="d09-wheels-")
    try:
        sh(
            f"pip download --quiet --only-binary=:all: --no-deps -d {folder} -r requirement.txt",
            app,
            env,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_the_built_app_serves_its_static_files_with_debug_off(released_web):
    url, _app = released_web
    page = requests.get(url + "/account", timeout=10)
    assert page.status_code == 200
    for asset in ("vendor/bootstrap/css/bootstrap", "vendor/jquery/jquery"):
        start = page.text.index("/static/" + asset)
        path = page.text[start : page.text.index('"', start)]
        answer = requests.get(url + path, timeout=10)
        assert answer.status_code == 200, path
        assert "immutable" in answer.headers["Cache-Control"]


def test_the_built_app_logs_in_and_carries_a_message_over_the_websocket(released_web):
    url, _app = released_web
    for name in ("deployer", "visitor"):
        sign_up(url, name)
    deployer = login(url, "deployer", PASSWORD)
    visitor = login(url, "visitor", PASSWORD)
    listening = connected(url, visitor, "general")
    speaking = connected(url, deployer, "general")
    try:
        listening.wait_users(["deployer", "visitor"])
        message_id = speaking.post("hello from a fresh build")
        received = listening.wait_for("message", lambda data: data["id"] == message_id)
        assert received["text"] == "hello from a fresh build"
        assert received["user"] == "deployer"
    finally:
        speaking.close()
        listening.close()
