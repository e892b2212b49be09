# Two commands on a fresh machine with Python 3.11+, Node.js 18+ (npm) and make: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-postgres lint format bench install clean

$(STAMP): requirements.txt package-lock.json
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=...)")'
	@command -v npm >/dev/null || { echo "Node.js 18 or newer with npm is needed for the browser libraries (package.json)"; exit 2; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	npm ci --no-audit --no-fund --loglevel=error
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py demo

test: $(STAMP)
	$(BIN)/python -m pytest

# The in-process suite again on the database DATABASE_URL names (CI: PostgreSQL). The browser and
# multi-process tests (marked `processes` elsewhere) set up their own databases and ran in `make test` already.
test-postgres: $(STAMP)
	@test -n "$(DATABASE_URL)" || { echo "set DATABASE_URL=postgres://…"; exit 2; }
	DATABASE_CONN_MAX_AGE=0 $(BIN)/python -m pytest --ignore=tests/e2e --ignore=tests/multiprocess -m "not processes"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Figures, not pass/fail: a script exits non-zero only when the harness itself fails. Short runs sized
# for a 2-core machine (BENCH_FLAGS=--quick); full-size runs: docs/BENCHMARKS.md.
BENCH_FLAGS ?= --quick
bench: $(STAMP)
	@ls bench/*.py >/dev/null 2>&1 || { echo "no benchmarks yet"; exit 0; }
	for script in $(filter-out bench/harness.py,$(wildcard bench/*.py)); do \
		$(BIN)/python $$script $(BENCH_FLAGS) || exit 1; done

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache staticfiles
