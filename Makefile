# cartmonitor — the two commands: `make run` (set up + serve the demo) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install lint migrations-check serve check-deploy clean bench

# Reinstall when pyproject.toml changes; otherwise reuse the virtualenv.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## Set up on SQLite, load demo data and users (idempotent), serve at http://127.0.0.1:8000/
## with a job worker beside the server (escalations, overdue checks, notifications; its
## e-mails print here). Ctrl+C stops both.
run: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	DJANGO_DEBUG=true CARTMONITOR_SITE_URL="$${CARTMONITOR_SITE_URL:-http://$(HOST):$(PORT)}" \
		$(BIN)/python manage.py run_worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	DJANGO_DEBUG=true $(BIN)/python manage.py runserver $(HOST):$(PORT)

## The whole test suite; the browser tests run in their own session (their live server and
## browser outlive single tests) and skip with a reason where Chromium is missing. The grading
## library's own (unit) tests must cover it 100 %, lines and branches (README "Tests"); measuring
## only them keeps the coverage tracer off the slower web tests.
GRADING_COVERAGE := --cov=monitoring/grading --cov-branch --cov-fail-under=100 \
	--cov-report=term-missing:skip-covered
# Web tests in parallel processes, each with its own test database (pytest-xdist).
TEST_PROCESSES ?= 2
# The browser tests; CI's second database leaves out the page walks ("e2e and not walk").
E2E_TESTS ?= e2e
test: $(STAMP)
	$(BIN)/pytest tests/unit $(GRADING_COVERAGE)
	$(BIN)/pytest -m "not e2e" --ignore=tests/unit -n $(TEST_PROCESSES)
	$(BIN)/pytest -m "$(E2E_TESTS)"

## Production-style local start (DEBUG off, collected static files, gunicorn.conf.py) on
## http://127.0.0.1:8000/. Plain http: for HTTPS settings see README "Deploying".
serve: export DJANGO_DEBUG = false
serve: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput
	GUNICORN_BIND="$${GUNICORN_BIND:-$(HOST):$(PORT)}" $(BIN)/gunicorn

## The deploy gate: run it with the production environment set (README "Deploying").
check-deploy: $(STAMP)
	$(BIN)/python manage.py check --deploy --fail-level WARNING

## Hot pages as multiples of the login page at 100 and 1,000 patients, on SQLite and (with
## DATABASE_URL) PostgreSQL; BENCH_ARGS="--large" adds 10,000 (README "Performance").
bench: $(STAMP)
	$(BIN)/python scripts/bench.py $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

migrations-check: $(STAMP)
	$(BIN)/python manage.py makemigrations --check --dry-run

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
