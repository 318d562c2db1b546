# The few verbs people type. Everything runs from the project's own virtualenv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: install run test lint bench openapi clean

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

bench: install
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
