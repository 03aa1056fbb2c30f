# The two commands of the quick start: `make run` and `make test`. Nothing else is needed
# on a fresh machine with Python >= 3.11.
# Prefer 3.12 where the machine has it: CPython 3.11.7's ast module can poison itself after a
# RecursionError (python/cpython#106905, fixed in 3.11.8), which made hypothesis-heavy runs flaky.
PYTHON ?= $(shell for p in python3.12 python3; do $$p -c "" >/dev/null 2>&1 && { echo $$p; break; }; done)
VENV ?= .venv
BIN := $(VENV)/bin
XC_DATA_DIR ?= ./data
export XC_DATA_DIR

.PHONY: run test install install-dev lint typecheck contracts unit clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## make run: install, load the demo city into an empty data directory, serve on http://127.0.0.1:8000
## with a light live sensor feed (each demo sensor at its own interval; XC_IOT__SIMULATE_IN_SERVE=false turns it off)
run: install
	XC_IOT__SIMULATE_IN_SERVE=$${XC_IOT__SIMULATE_IN_SERVE:-true} $(BIN)/xingcheng serve --demo

lint: install-dev
	$(BIN)/ruff check src tests $(wildcard bench scripts)

typecheck: install-dev
	$(BIN)/mypy

contracts: install-dev
	$(BIN)/lint-imports

unit: install-dev
	$(BIN)/python -m pytest -n auto

## make test: install dev dependencies, then lint, types, layer contracts and the whole suite in parallel
test: install-dev
	$(BIN)/ruff check src tests $(wildcard bench scripts)
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n auto

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
