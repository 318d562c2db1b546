# The few verbs people type. Everything runs from the project's own virtualenv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_URL ?= postgresql://postgres@127.0.0.1:5432/test
# The PostgreSQL ingest benchmark's own database, made anew by `make bench`
PG_BENCH_DB ?= cmbench
# The PostgreSQL read benchmark's store (1M events), generated once like the SQLite ones
PG_READ_DB ?= cmread1m

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

## bench: every figure of docs/benchmarks.md (needs Debian's wrk; ~30 min, stores kept in BENCH_DIR)
BENCH_DIR ?= /tmp
bench: install
	test -f $(BENCH_DIR)/bench1m.db || $(BIN)/python -m benchmarks.generate --events 1000000 \
		--database-url sqlite:///$(BENCH_DIR)/bench1m.db
	test -f $(BENCH_DIR)/bench10m.db || $(BIN)/python -m benchmarks.generate --events 10000000 \
		--database-url sqlite:///$(BENCH_DIR)/bench10m.db
	psql "$(PG_URL)" -qc "SELECT 1 FROM pg_database WHERE datname = '$(PG_READ_DB)'" -tA | grep -q 1 \
		|| (psql "$(PG_URL)" -qc "CREATE DATABASE $(PG_READ_DB)" && $(BIN)/python -m benchmarks.generate \
		--events 1000000 --database-url postgresql://postgres@127.0.0.1:5432/$(PG_READ_DB))
	$(BIN)/python -m benchmarks.read --database-url sqlite:///$(BENCH_DIR)/bench1m.db \
		--database-url sqlite:///$(BENCH_DIR)/bench10m.db \
		--database-url postgresql://postgres@127.0.0.1:5432/$(PG_READ_DB) --seconds 10
	rm -f $(BENCH_DIR)/credits-bench.db*
	$(BIN)/python -m benchmarks.credits --database-url sqlite:///$(BENCH_DIR)/credits-bench.db
	psql "$(PG_URL)" -qc "DROP DATABASE IF EXISTS $(PG_BENCH_DB)" -c "CREATE DATABASE $(PG_BENCH_DB)"
	$(BIN)/python -m benchmarks.credits \
		--database-url postgresql://postgres@127.0.0.1:5432/$(PG_BENCH_DB)
	rm -f $(BENCH_DIR)/conv-bench.db*
	psql "$(PG_URL)" -qc "DROP DATABASE IF EXISTS $(PG_BENCH_DB)" -c "CREATE DATABASE $(PG_BENCH_DB)"
	$(BIN)/python -m benchmarks.conversations --database-url sqlite:///$(BENCH_DIR)/conv-bench.db \
		--database-url postgresql://postgres@127.0.0.1:5432/$(PG_BENCH_DB) --conversations 1000000
	$(BIN)/python -m benchmarks.ingest --events 2000000 --prefilled $(BENCH_DIR)/bench10m.db
	psql "$(PG_URL)" -qc "DROP DATABASE IF EXISTS $(PG_BENCH_DB)" -c "CREATE DATABASE $(PG_BENCH_DB)"
	$(BIN)/python -m benchmarks.ingest --events 2000000 \
		--database-url postgresql://postgres@127.0.0.1:5432/$(PG_BENCH_DB)
	$(BIN)/python -m benchmarks.profile --database-url sqlite:///$(BENCH_DIR)/bench10m.db
	$(BIN)/python -m benchmarks.serve_profile --load cold \
		--database-url sqlite:///$(BENCH_DIR)/bench1m.db
	$(BIN)/python -m benchmarks.serve_profile --load cold \
		--database-url postgresql://postgres@127.0.0.1:5432/$(PG_READ_DB)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
