# The few verbs people type. Everything runs from the project's own virtualenv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_URL ?= postgresql://postgres@127.0.0.1:5432/test
# The PostgreSQL ingest benchmark's own database, made anew by `make bench`
PG_BENCH_DB ?= cmbench

.PHONY: install run test lint bench openapi categories clean

$(BIN)/creditmeter: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(BIN)/creditmeter

## run: the service with demo data on the embedded SQLite default
run: install
	$(BIN)/creditmeter demo
	$(BIN)/creditmeter serve

## test: lint, types, and the whole test suite (PostgreSQL tests when it answers)
test: install lint
	CREDITMETER_TEST_POSTGRES_URL=$${CREDITMETER_TEST_POSTGRES_URL-$(PG_URL)} \
		$(BIN)/pytest -n 2 -q

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

## openapi: write the served OpenAPI document to openapi.json (a test compares them)
openapi: install
	$(BIN)/python -m creditmeter.openapi > openapi.json

## categories: write the dashboard's list of categories (a test compares them)
categories: install
	$(BIN)/python -m creditmeter.dashboard.categories

## bench: every figure of docs/benchmarks.md (needs Debian's wrk; ~15 min, stores kept in BENCH_DIR)
BENCH_DIR ?= /tmp
bench: install
	test -f $(BENCH_DIR)/bench1m.db || $(BIN)/python -m benchmarks.generate --events 1000000 \
		--database-url sqlite:///$(BENCH_DIR)/bench1m.db
	test -f $(BENCH_DIR)/bench10m.db || $(BIN)/python -m benchmarks.generate --events 10000000 \
		--database-url sqlite:///$(BENCH_DIR)/bench10m.db
	$(BIN)/python -m benchmarks.read --database-url sqlite:///$(BENCH_DIR)/bench1m.db \
		--database-url sqlite:///$(BENCH_DIR)/bench10m.db --seconds 10
	$(BIN)/python -m benchmarks.ingest --events 2000000 --prefilled $(BENCH_DIR)/bench10m.db
	psql "$(PG_URL)" -qc "DROP DATABASE IF EXISTS $(PG_BENCH_DB)" -c "CREATE DATABASE $(PG_BENCH_DB)"
	$(BIN)/python -m benchmarks.ingest --events 2000000 \
		--database-url postgresql://postgres@127.0.0.1:5432/$(PG_BENCH_DB)
	$(BIN)/python -m benchmarks.profile --database-url sqlite:///$(BENCH_DIR)/bench10m.db

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
