# One entry point for development: every target installs what it needs first (venv and CDK CLI, by stamp).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# One Python for everything: Lambda's runtime (payment_stack/payment_function.py), the venv, tests, local mode, the
# bytecode in the bundles. PYTHON defaults to python3.13 on PATH, else pyenv's 3.13 (scripts/find_python.sh).
PYTHON_VERSION := 3.13
PYTHON ?= $(shell scripts/find_python.sh $(PYTHON_VERSION))
VENV := .venv
BIN := $(VENV)/bin
CDK := node_modules/.bin/cdk
# The environment to synth/deploy; empty means the CDK app decides (AWS_BRANCH, then the git branch).
ENV ?=
# The sample environment `make test` synthesizes and lints.
TEST_ENV ?= feature/ci-sample
CDK_ENV_ARG = $(if $(ENV),--context 'env=$(ENV)')

REQUIREMENTS := requirements.txt requirements-dev.txt $(wildcard lambdas/*/requirements.txt)
VENV_STAMP := $(VENV)/.installed-py$(PYTHON_VERSION)-$(shell cat $(REQUIREMENTS) | sha256sum | cut -c1-16)
define NO_PYTHON
Python $(PYTHON_VERSION) was not found (looked for python$(PYTHON_VERSION) on PATH and for pyenv's $(PYTHON_VERSION)).
The functions run on Lambda's python$(PYTHON_VERSION), so the venv, the tests, local mode and the bundles' bytecode
use exactly that version. Install it, e.g. `pyenv install $(PYTHON_VERSION)` or your system's python$(PYTHON_VERSION)
package, or name one: make PYTHON=/path/to/python$(PYTHON_VERSION) ...
endef
export NO_PYTHON
NODE_STAMP := node_modules/.installed-$(shell sha256sum package-lock.json | cut -c1-16)

export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_VERSION_CHECK := true
export CDK_CLI_TELEMETRY_DISABLED := true
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

# A venv built by another Python version (or broken) is rebuilt; PYTHON must be that version too.
PYTHON_VERSION_OF = $$("$(1)" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
$(VENV_STAMP): $(REQUIREMENTS)
	@if [ -e $(VENV) ] && [ "$(call PYTHON_VERSION_OF,$(BIN)/python)" != $(PYTHON_VERSION) ]; then \
		echo "Recreating $(VENV): it was not built by Python $(PYTHON_VERSION)"; rm -rf $(VENV); fi
	@if [ ! -e $(VENV) ]; then \
		if [ -z "$(PYTHON)" ]; then echo "$$NO_PYTHON" >&2; exit 1; fi; \
		if [ "$(call PYTHON_VERSION_OF,$(PYTHON))" != $(PYTHON_VERSION) ]; then \
			echo "PYTHON=$(PYTHON) is not Python $(PYTHON_VERSION)" >&2; exit 1; fi; \
		echo "Creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); fi
	$(BIN)/python -m pip install --quiet --requirement requirements-dev.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@rm -f node_modules/.installed-*
	@touch $@

.PHONY: venv
venv: $(VENV_STAMP) ## Create or refresh .venv alone (Python 3.13, rebuilt if made by another version)

.PHONY: install
install: $(VENV_STAMP) $(NODE_STAMP) ## Create or refresh .venv and node_modules (only when their inputs change)

# Debian's Chromium and its driver for the real-browser test, installed only when missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
.PHONY: browser
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
		echo "Installing Debian's chromium and chromium-driver for the browser test..."; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver; }

.PHONY: lint
lint: $(VENV_STAMP) ## ruff (lint + format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

.PHONY: format
format: $(VENV_STAMP) ## Apply ruff's formatting and safe fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

.PHONY: pytest
pytest: install browser ## All pytest tiers (unit, integration, e2e: starts local mode itself)
	$(BIN)/pytest

.PHONY: unit
unit: $(VENV_STAMP) ## The unit tier alone: fast, offline (sockets off), no local mode
	$(BIN)/pytest tests/unit

.PHONY: integration
integration: install ## The integration tier alone: real localstripe/moto servers on 127.0.0.1, bundling
	$(BIN)/pytest tests/integration

.PHONY: e2e
e2e: install browser ## The e2e tier alone: starts local mode and drives it as clients do (browser tests included)
	$(BIN)/pytest tests/e2e

.PHONY: synth
synth: install ## Synthesize to cdk.out (ENV=name to choose the environment)
	$(CDK) synth $(CDK_ENV_ARG) --quiet

# W3005 (redundant DependsOn) is emitted by CDK's own constructs, not by this code.
.PHONY: cfn-lint
cfn-lint: $(VENV_STAMP)
	$(BIN)/cfn-lint --ignore-checks W3005 -- cdk.out/*.template.json

.PHONY: test
test: install browser ## Everything CI runs: lint, mypy, workflow lint, pytest, synth of a sample environment, cfn-lint
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory workflow-lint
	$(MAKE) --no-print-directory pytest
	$(MAKE) --no-print-directory synth ENV='$(TEST_ENV)'
	$(MAKE) --no-print-directory cfn-lint

# --- Delivery from GitHub Actions (.github/workflows, docs/delivery.md) ------------------------------------------------
# Offline: the workflows against GitHub's workflow schema (check-jsonschema's vendored copy) and zizmor's security
# audits at its strictest persona; accepted findings are listed with their reasons in .github/zizmor.yml.
.PHONY: workflow-lint
workflow-lint: $(VENV_STAMP) ## Lint .github/workflows offline: GitHub's schema and zizmor's security audits
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(BIN)/zizmor --offline --persona auditor --config .github/zizmor.yml --no-progress .github/workflows

# The PaymentDelivery stack (GitHub's OIDC provider, the deploy and destroy roles), once per account and region.
DELIVERY_APP = --app "$(BIN)/python delivery_app.py" --output cdk.out/delivery
DELIVERY_ARGS = --context 'repo=$(REPO)' $(if $(DEFAULT_BRANCH),--context 'defaultBranch=$(DEFAULT_BRANCH)') \
	$(if $(EXISTING_OIDC_PROVIDER),--context 'existingOidcProvider=$(EXISTING_OIDC_PROVIDER)')
.PHONY: delivery-repo
delivery-repo:
	@if [ -z '$(REPO)' ]; then echo "error: name the GitHub repository: REPO=owner/name" >&2; exit 2; fi

.PHONY: synth-delivery
synth-delivery: delivery-repo install ## Synthesize the delivery stack to cdk.out/delivery (REPO=owner/name)
	$(CDK) $(DELIVERY_APP) synth $(DELIVERY_ARGS) --quiet

.PHONY: deploy-delivery
deploy-delivery: delivery-repo install check-aws ## GitHub Actions' OIDC provider and roles, once per account: REPO=owner/name
	$(CDK) $(DELIVERY_APP) deploy $(DELIVERY_ARGS) $(CDK_ARGS)

.PHONY: check-aws
check-aws: $(VENV_STAMP)
	$(BIN)/python -m scripts.check_aws_credentials

.PHONY: deploy
deploy: install check-aws ## Deploy this environment's stacks to AWS (needs AWS credentials)
	$(CDK) deploy $(CDK_ENV_ARG) --all $(CDK_ARGS)

.PHONY: destroy
destroy: install check-aws ## Delete this environment's stacks from AWS
	$(CDK) destroy $(CDK_ENV_ARG) --all $(CDK_ARGS)

.PHONY: stripe-key
stripe-key: install check-aws ## Store $$STRIPE_SECRET_KEY as this environment's SecureString (never echoed)
	$(BIN)/python -m scripts.put_stripe_key $(if $(ENV),--env '$(ENV)')

.PHONY: stripe-webhook-secret
stripe-webhook-secret: install check-aws ## Store $$STRIPE_WEBHOOK_SECRET (whsec_..., or new,old) as this environment's SecureString
	$(BIN)/python -m scripts.put_stripe_webhook_secret $(if $(ENV),--env '$(ENV)')

.PHONY: stripe-webhook
stripe-webhook: install check-aws ## Register or update this environment's Stripe webhook endpoint (stores a new secret)
	$(BIN)/python -m scripts.register_stripe_webhook $(if $(ENV),--env '$(ENV)')

.PHONY: local
local: install ## Run the whole service locally (localstripe + moto), demo, then serve until Ctrl-C
	$(BIN)/python -m local_mode.run

.PHONY: local-demo
local-demo: install ## Like `make local`, but exit after the demo (0 only if its end states are right)
	$(BIN)/python -m local_mode.run --demo-only

.PHONY: local-event
local-event: $(VENV_STAMP) ## A signed Stripe event to running local mode: TYPE=charge.dispute.created PAYMENT=ch_... [AMOUNT=]
	$(BIN)/python -m local_mode.send_event --type '$(TYPE)' --payment '$(PAYMENT)' $(if $(AMOUNT),--amount '$(AMOUNT)') \
		$(if $(REFUND),--refund '$(REFUND)') $(if $(OUTCOME),--outcome '$(OUTCOME)')

.PHONY: bench
bench: install ## Benchmarks: init, first/warm invocation, SSM reads, connections, bundles, synth
	$(BIN)/python -m benchmarks.run

.PHONY: bench-quick
bench-quick: $(VENV_STAMP) ## The benchmarks in quick mode: few runs, no synth (CI runs it as a test)
	$(BIN)/python -m benchmarks.run --quick

.PHONY: clean
clean: ## Remove build output (keeps .venv and node_modules)
	rm -rf cdk.out .local .pytest_cache .mypy_cache .ruff_cache
