# The front door: `make help` lists everything. `make run` and `make test` set up .venv themselves.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TICKERS ?= PETR4
LAKE ?= ./lake
PYTEST_ARGS ?=
FAKE_BRAPI_PORT ?= 8765
# The demo's lake is the project's own folder, never $(LAKE): `make clean` may delete it,
# and the stand-in's 2022 history stays out of a lake of real BRAPI data.
DEMO_LAKE := demo-lake

.PHONY: help
help: ## List the commands
	@awk 'BEGIN {FS = ":.*##"} /^##@/ {printf "\n%s\n", substr($$0, 5)} /^[a-zA-Z_-]+:.*##/ {printf "  make %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

##@ Setup
# Two install sets in one .venv: the light one (`dev`: the local runner, tests' tools, lint)
# is all `make run` needs; the Spark one adds pyspark and a JVM-backed local Spark for the
# Glue job's tests, which `make test` and `make lint` need.
VENV_STAMP := $(VENV)/.installed
SPARK_STAMP := $(VENV)/.installed-spark

$(VENV_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==26.3
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(VENV_STAMP)

$(SPARK_STAMP): $(VENV_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,spark]'
	touch $(SPARK_STAMP)

.PHONY: venv
venv: $(SPARK_STAMP) ## Create or refresh .venv with the pinned dev dependencies, Spark included

##@ Run
.PHONY: run
run: $(VENV_STAMP) ## Run the pipeline locally: PETR4 into ./lake (TICKERS=, LAKE=, BRAPI_BASE_URL= to change)
	$(BIN)/b3pipeline run --tickers $(TICKERS) --lake $(LAKE)

# A stand-in already answering on the port (`make fake-brapi` in another terminal) is used
# as is; a port held by another program stops the demo with one line naming it.
.PHONY: demo
demo: $(VENV_STAMP) ## Offline demo: a loopback fake BRAPI (real PETR4 history) -> backfill -> run -> SQL, into ./demo-lake
	@set -e; \
	url=http://127.0.0.1:$(FAKE_BRAPI_PORT); \
	state=$$($(BIN)/python -m tests.support.fake_brapi --port $(FAKE_BRAPI_PORT) --status); \
	if [ "$$state" = running ]; then \
		echo "Using the BRAPI stand-in already running on $$url"; \
	else \
		$(BIN)/python -m tests.support.fake_brapi --port $(FAKE_BRAPI_PORT) --quiet & server=$$!; \
		trap 'kill $$server 2>/dev/null || true' EXIT; \
		$(BIN)/python -m tests.support.fake_brapi --port $(FAKE_BRAPI_PORT) --wait; \
	fi; \
	export BRAPI_BASE_URL=$$url; \
	$(BIN)/b3pipeline backfill --tickers PETR4 --start 2022-01-03 --end 2022-09-09 --lake $(DEMO_LAKE); \
	$(BIN)/b3pipeline run --tickers PETR4 --lake $(DEMO_LAKE); \
	$(BIN)/b3pipeline query --file sql/latest_signals.sql --lake $(DEMO_LAKE)

.PHONY: fake-brapi
fake-brapi: $(VENV_STAMP) ## Serve PETR4 daily bars 2018-09-12..2022-09-09 as BRAPI on 127.0.0.1:8765 (FAKE_BRAPI_PORT=)
	$(BIN)/python -m tests.support.fake_brapi --port $(FAKE_BRAPI_PORT)

##@ Test and quality
# asl-validator (npm) is what the ASL validation test runs; it is skipped only without Node.
NODE_STAMP := node_modules/.installed
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

.PHONY: node-deps
node-deps:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory $(NODE_STAMP); \
	else echo "npm not found: the asl-validator test will be skipped"; fi

.PHONY: test
test: $(SPARK_STAMP) node-deps ## Run every test layer (unit, workflow, e2e, spark, infra)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

.PHONY: test-unit
test-unit: $(VENV_STAMP) ## Unit tests only (no network)
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

.PHONY: test-spark
test-spark: $(SPARK_STAMP) ## The Glue job's script on a local SparkSession (needs Java 17)
	$(BIN)/python -m pytest tests/spark $(PYTEST_ARGS)

.PHONY: lint
lint: $(SPARK_STAMP) ## ruff (format check + lint), mypy, asl-validator, checkov and tf-check
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(MAKE) lint-asl
	$(MAKE) --no-print-directory checkov
	$(MAKE) --no-print-directory tf-check

# Terraform's own checks with the real AWS provider, offline when a plugin mirror is found
# (TF_PLUGIN_MIRROR=<dir>, or /opt/tf-plugins and Terraform's usual mirror folders), from the
# registry otherwise. Fake credentials, no account. Terraform reads the built artifacts.
.PHONY: tf-check
tf-check: package ## terraform fmt -check, init (mirror or registry), validate, terraform test
	$(BIN)/python scripts/tf_check.py check

.PHONY: tf-render
tf-render: package ## Rewrite terraform/tests/rendered/iam/*.json from what Terraform renders
	$(BIN)/python scripts/tf_check.py render

.PHONY: checkov
checkov: ## checkov on terraform/ in its own venv (.venv-checkov); every skip has an inline reason
	@test -x .venv-checkov/bin/python || $(PYTHON) -m venv .venv-checkov
	@.venv-checkov/bin/python -m pip install --quiet --disable-pip-version-check -r requirements/checkov.txt
	.venv-checkov/bin/checkov --directory terraform --framework terraform --skip-download --quiet --compact \
		--skip-path terraform/tests # Terraform's own test files (*.tftest.hcl), not the stack

.PHONY: fmt
fmt: $(VENV_STAMP) ## Format and auto-fix with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Only what the project itself creates, at fixed paths: never $(LAKE), which may be a
# user's real lake (LAKE=/data/b3) and comes from the environment.
.PHONY: clean
clean: ## Remove build outputs, caches and the demo's lake (./demo-lake); never a LAKE=
	rm -rf build dist $(DEMO_LAKE) .pytest_cache .mypy_cache .ruff_cache

##@ Package and deploy (AWS; see docs/deploy.md)
TF ?= terraform
TF_ARGS ?=

.PHONY: package
package: $(VENV_STAMP) ## Build build/{scraper,trigger}.zip, the core wheel and the Glue script (reproducible)
	$(BIN)/python scripts/package.py --out build

# The newest provider the range allows (6.x), locked for the platforms a team uses; commit the
# file in the repository you deploy from (docs/adr/0006-terraform-checked-offline.md).
.PHONY: tf-lock
tf-lock: ## Write terraform/.terraform.lock.hcl for Linux, macOS and Windows (needs the registry)
	$(TF) -chdir=terraform providers lock -platform=linux_amd64 -platform=linux_arm64 \
		-platform=darwin_amd64 -platform=darwin_arm64 -platform=windows_amd64

.PHONY: deploy
deploy: package ## Build (make package), then terraform init + apply in terraform/ (terraform.tfvars; TF_ARGS=-auto-approve)
	$(TF) -chdir=terraform init -input=false
	$(TF) -chdir=terraform apply -input=false $(TF_ARGS)

# The lake bucket's data is deleted only with DELETE_DATA=1; without it, a bucket holding data
# stops the teardown before anything is destroyed (why and in what order: scripts/teardown.py).
DELETE_DATA ?=

AWS_RUN_ARGS ?=

.PHONY: aws-run
aws-run: $(VENV_STAMP) ## Start the deployed pipeline once and follow it (AWS_RUN_ARGS='--tickers PETR4 --date 2025-08-29')
	$(BIN)/b3pipeline aws run $(AWS_RUN_ARGS)

.PHONY: destroy
destroy: package ## Tear the stack down; refuses while the lake holds data unless DELETE_DATA=1 (empties it first)
	$(TF) -chdir=terraform init -input=false
	$(BIN)/python scripts/teardown.py --terraform $(TF) --terraform-dir terraform \
		$(if $(filter 1 yes true,$(DELETE_DATA)),--delete-data) -- $(TF_ARGS)

##@ State machine
SFN_LOCAL_PORT ?= 8083
SFN_LOCAL_IMAGE ?= amazon/aws-stepfunctions-local:latest

.PHONY: lint-asl
lint-asl: $(NODE_STAMP) ## Validate statemachine/pipeline.asl.json with asl-validator
	npx --no-install asl-validator --json-path statemachine/pipeline.asl.json

.PHONY: sfn-local
sfn-local: ## Start Step Functions Local (Docker) with the mock config, on port 8083 (SFN_LOCAL_PORT=)
	docker rm -f b3-sfn-local >/dev/null 2>&1 || true
	docker run --detach --name b3-sfn-local -p $(SFN_LOCAL_PORT):8083 \
		--mount type=bind,readonly,source=$(CURDIR)/statemachine/test/mock_config.json,destination=/home/StepFunctionsLocal/MockConfigFile.json \
		-e SFN_MOCK_CONFIG=/home/StepFunctionsLocal/MockConfigFile.json \
		$(SFN_LOCAL_IMAGE)
	@for i in $$(seq 1 30); do curl -s -o /dev/null http://localhost:$(SFN_LOCAL_PORT) && exit 0; sleep 1; done; \
		echo "Step Functions Local did not answer on port $(SFN_LOCAL_PORT)"; docker logs b3-sfn-local; exit 1

.PHONY: test-sfn-local
test-sfn-local: $(VENV_STAMP) ## Run the workflow tests against Step Functions Local (make sfn-local first)
	SFN_LOCAL_ENDPOINT=http://localhost:$(SFN_LOCAL_PORT) $(BIN)/python -m pytest tests/workflow $(PYTEST_ARGS)
