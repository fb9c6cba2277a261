# The front door: `make help` lists everything. `make run` and `make test` set up .venv themselves.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
VENV_STAMP := $(VENV)/.installed
TICKERS ?= PETR4
LAKE ?= ./lake
PYTEST_ARGS ?=

.PHONY: help
help: ## List the commands
	@awk 'BEGIN {FS = ":.*##"} /^##@/ {printf "\n%s\n", substr($$0, 5)} /^[a-zA-Z_-]+:.*##/ {printf "  make %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

##@ Setup
$(VENV_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==26.3
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(VENV_STAMP)

.PHONY: venv
venv: $(VENV_STAMP) ## Create or refresh .venv with the pinned dev dependencies

##@ Run
.PHONY: run
run: $(VENV_STAMP) ## Run the pipeline locally for $(TICKERS) into $(LAKE) (BRAPI_BASE_URL to point elsewhere)
	$(BIN)/b3pipeline run --tickers $(TICKERS) --lake $(LAKE)

##@ Test and quality
.PHONY: test
test: $(VENV_STAMP) ## Run every test layer (unit, workflow, e2e, infra)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

.PHONY: test-unit
test-unit: $(VENV_STAMP) ## Unit tests only (no network)
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

.PHONY: lint
lint: $(VENV_STAMP) ## ruff (format check + lint) and mypy
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

.PHONY: fmt
fmt: $(VENV_STAMP) ## Format and auto-fix with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

.PHONY: clean
clean: ## Remove build outputs and the local lake
	rm -rf build dist $(LAKE) .pytest_cache .mypy_cache .ruff_cache
