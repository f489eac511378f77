# d09: the two commands are `make run` and `make test` (see README.md).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
WORKER_CONNECTIONS ?= 10000

BROWSER_TEST_TOOLS := tests/browser/node_modules/.installed

.DEFAULT_GOAL := help
.PHONY: help run setup test test-postgres-redis lint format system-deps clean bench

help:
	@echo "make run    set everything up and serve the app at http://$(HOST):$(PORT)"
	@echo "make test   set everything up and run ruff and the whole test suite"
	@echo "make setup  virtualenv, .env, migrations, static files, demo users (run does it)"
	@echo "make test-postgres-redis  the browser tests again, on PostgreSQL + Redis"
	@echo "make format reformat the code with ruff"
	@echo "make bench  the performance benchmark (bench/README.md; ~20 min, not part of test)"

$(VENV)/.runtime: requirement.txt
	@scripts/ensure-venv "$(PYTHON)" "$(VENV)"
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirement.txt
	@touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

# A local, uncommitted .env holds a random SECRET_KEY so that DEBUG can stay off.
.env:
	@$(PYTHON) -c "import secrets; print('SECRET_KEY=' + secrets.token_urlsafe(50))" > .env
	@echo "wrote .env with a new random SECRET_KEY"

setup: $(VENV)/.runtime .env
	@$(PY) scripts/ensure-vapid-keys .env
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py create_demo_users

run: setup
	@echo "d09 at http://$(HOST):$(PORT)/account (demo users: alice, bob, carol; see README)"
	ulimit -n 65536 2>/dev/null || ulimit -n $$(ulimit -Hn); \
	exec $(VENV)/bin/gunicorn -k eventlet -w 1 --worker-connections $(WORKER_CONNECTIONS) \
		-b $(HOST):$(PORT) sio_server:app

system-deps:
	@scripts/ensure-system-deps

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The suite runs in TEST_PROCESSES processes (pytest-xdist): most of a test's
# time is spent waiting on a server or a browser. A file's tests stay in one
# process (--dist loadfile), so the servers its fixtures start are shared.
TEST_PROCESSES ?= 2
PYTEST := $(VENV)/bin/pytest -n $(TEST_PROCESSES) --dist loadfile

# Everything: lint, the whole suite on the embedded defaults (SQLite, one
# server process; the scale tests start their own PostgreSQL and Redis), then
# the browser suite once more on PostgreSQL + Redis.
test: $(VENV)/.dev .env system-deps $(BROWSER_TEST_TOOLS) lint
	$(PYTEST) --durations=30 $(PYTEST_ARGS)
	$(MAKE) --no-print-directory test-postgres-redis

test-postgres-redis: $(VENV)/.dev .env system-deps $(BROWSER_TEST_TOOLS)
	D09_TEST_BACKEND=postgres-redis $(PYTEST) -m browser --durations=15 $(PYTEST_ARGS)

# axe-core for the accessibility tests: npm, test runs only, never served.
$(BROWSER_TEST_TOOLS): tests/browser/package.json tests/browser/package-lock.json
	cd tests/browser && npm ci --no-audit --no-fund
	@touch $@

# The benchmark (bench/README.md). Never part of `make test`: it takes minutes and
# its figures depend on the machine. BENCH_ARGS="--quick" for a smoke run.
BENCH_ARGS ?=
bench: $(VENV)/.runtime bench/node_modules/.installed bench/.venv-channels/.installed
	ulimit -n $$(ulimit -Hn); $(PY) bench/run.py $(BENCH_ARGS)

bench/node_modules/.installed: bench/package.json bench/package-lock.json
	cd bench && npm ci --no-audit --no-fund
	@touch $@

bench/.venv-channels/.installed: bench/requirements.txt
	@test -x bench/.venv-channels/bin/python || $(PYTHON) -m venv bench/.venv-channels
	bench/.venv-channels/bin/pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	@touch $@

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache tests/browser/node_modules
