# `make run` and `make test` work on a fresh Debian machine: they install what is missing
# (Debian packages, then a .venv with pagecast editable) and are quick the second time.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench bench-render bench-queue deps system clean

deps: system $(STAMP)

system:
	@scripts/install-system-deps.sh

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

run: deps
	$(BIN)/pagecast serve

test: deps
	$(BIN)/pytest -q

lint: deps
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/mypy

format: deps
	$(BIN)/ruff check --fix src tests benchmarks scripts
	$(BIN)/ruff format src tests benchmarks scripts

bench: bench-render bench-queue

bench-render: deps
	$(BIN)/python benchmarks/render_bench.py

bench-queue: deps
	$(BIN)/python benchmarks/queue_bench.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
