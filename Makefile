# jupyter-flows: set up, run and test everything from a fresh clone. `make help` lists targets.
#
# Setup is incremental: each step leaves a stamp file inside what it produced (.venv,
# node_modules, the built labextension), so a second `make test` only re-runs the tests,
# and deleting .venv or node_modules redoes exactly the steps that made them.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.NOTPARALLEL:
.DELETE_ON_ERROR:
MAKEFLAGS += --no-builtin-rules --no-print-directory

JUPYTERLAB_VERSION := 4.6.6

VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
PYTHON := $(BIN)/python
export PATH := $(BIN):$(PATH)
# Node/Yarn trust only their own CA list unless told otherwise; use the system's.
export NODE_EXTRA_CA_CERTS ?= /etc/ssl/certs/ca-certificates.crt
export PIP_DISABLE_PIP_VERSION_CHECK := 1

IS_ROOT := $(filter 0,$(shell id -u))
SUDO := $(if $(IS_ROOT),,sudo)
ALLOW_ROOT := $(if $(IS_ROOT),--allow-root,)

# Exact versions of every Python package the project and its tests were last checked with:
# pip installs them without searching (left to resolve the test extras alone, it backtracks
# for half an hour). `make constraints` rewrites the file after a dependency changes.
CONSTRAINTS := constraints.txt

VENV_STAMP := $(VENV)/.stamp-jupyterlab
PY_STAMP := $(VENV)/.stamp-install
DEVELOP_STAMP := $(VENV)/.stamp-develop
JS_STAMP := node_modules/.stamp-install
UI_JS_STAMP := ui-tests/node_modules/.stamp-install
LABEXT := jupyter_flows/labextension/package.json
TS_SOURCES := $(shell find src style schema -type f -not -path 'src/__tests__/*' 2>/dev/null) \
	package.json tsconfig.json
# Galata and Yarn leave temp dirs behind; keep them in the (ignored) work tree.
UI_TMP := $(CURDIR)/.tmp/ui-tests

.PHONY: help setup sysdeps build lab test lint format mypy jest ui-test pytest soak bench clean distclean constraints

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# ---------------------------------------------------------------- setup

setup: sysdeps $(DEVELOP_STAMP) ## system packages, .venv, JS deps, build, link the labextension

sysdeps: ## install chromium and PostgreSQL from Debian if missing
	@missing=""; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
		echo "== installing system packages:$$missing"; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(VENV_STAMP):
	@echo "== creating $(VENV) with jupyterlab $(JUPYTERLAB_VERSION)"
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install -q -c $(CONSTRAINTS) "jupyterlab==$(JUPYTERLAB_VERSION)"
	touch $@

$(JS_STAMP): package.json yarn.lock .yarnrc.yml | $(VENV_STAMP)
	@echo "== installing JS dependencies"
	jlpm install
	touch $@

build: $(LABEXT) ## build the labextension (dev build; the wheel uses build:prod)

$(LABEXT): $(TS_SOURCES) $(JS_STAMP)
	@echo "== building the labextension"
	jlpm build
	touch $@

# Built first, so the editable install's build hook finds the labextension up to date.
$(PY_STAMP): pyproject.toml package.json $(CONSTRAINTS) | $(VENV_STAMP) $(LABEXT)
	@echo "== installing jupyter_flows (editable) with test extras"
	$(PYTHON) -m pip install -q -c $(CONSTRAINTS) -e ".[test]"
	touch $@

$(DEVELOP_STAMP): $(PY_STAMP) | $(LABEXT)
	@echo "== linking the labextension into $(VENV)"
	jupyter-builder develop --overwrite .
	@labext="$$(jupyter labextension list 2>&1)"; \
	grep -q "jupyter-flows.*enabled.*OK" <<<"$$labext" || { echo "$$labext"; exit 1; }
	@srvext="$$(jupyter server extension list 2>&1)"; \
	grep -q "jupyter_flows.*enabled" <<<"$$srvext" || { echo "$$srvext"; exit 1; }
	touch $@

$(UI_JS_STAMP): ui-tests/package.json ui-tests/yarn.lock .yarnrc.yml | $(VENV_STAMP)
	@echo "== installing ui-tests dependencies (Galata)"
	cd ui-tests && jlpm install
	touch $@

constraints: $(PY_STAMP) ## rewrite constraints.txt from .venv (after a dependency changed)
	{ sed -n '/^#/p' $(CONSTRAINTS); $(PYTHON) -m pip freeze --exclude-editable; } > $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS)

# ---------------------------------------------------------------- run

lab: setup ## start JupyterLab on examples/
	mkdir -p examples
	jupyter lab $(ALLOW_ROOT) --ServerApp.root_dir=examples $(LAB_ARGS)

# Every benchmark runs even when an earlier one fails; the target fails if any did.
# `make bench BENCH_ARGS=--full` passes options to benchmarks/run.py.
bench: sysdeps $(DEVELOP_STAMP) ## run the benchmarks (writes benchmarks/README.md)
	@status=0; \
	$(PYTHON) benchmarks/run.py $(BENCH_ARGS) || status=1; \
	$(PYTHON) benchmarks/agents.py || status=1; \
	$(PYTHON) benchmarks/notebooks_engines.py || status=1; \
	$(PYTHON) benchmarks/server_api.py || status=1; \
	$(PYTHON) benchmarks/environments.py || status=1; \
	exit $$status

# ---------------------------------------------------------------- checks

test: setup lint jest ui-test pytest ## everything CI runs; pytest last

lint: $(PY_STAMP) $(JS_STAMP) ## ruff, ruff format --check, mypy, eslint, prettier --check
	@echo "== lint"
	ruff check .
	ruff format --check .
	@$(MAKE) mypy
	jlpm eslint:check
	jlpm prettier:check

mypy: $(PY_STAMP) ## strict typing of the engine and the store
	mypy jupyter_flows/engine jupyter_flows/store

format: $(PY_STAMP) $(JS_STAMP) ## fix formatting and autofixable lint
	ruff check --fix .
	ruff format .
	jlpm prettier
	jlpm eslint

jest: $(JS_STAMP) ## front-end unit tests
	@echo "== jest"
	jlpm test

ui-test: setup $(UI_JS_STAMP) ## Galata tests against a real JupyterLab (system chromium)
	@echo "== ui-tests"
	rm -rf $(UI_TMP) && mkdir -p $(UI_TMP)
	cd ui-tests && TMPDIR=$(UI_TMP) jlpm playwright test

pytest: sysdeps $(PY_STAMP) ## Python tests
	@echo "== pytest"
	$(PYTHON) -m pytest

# The fault-injection suite at length: SOAK_RUNS runs under random faults (seed SOAK_SEED);
# the figures (double executions, runs left non-final, lines lost, longest outage) go to
# soak-report.json.
SOAK_RUNS ?= 500
SOAK_SEED ?= $(shell date +%s)
soak: sysdeps $(PY_STAMP) ## the fault-injection suite at length (SOAK_RUNS=500 runs)
	@echo "== soak: $(SOAK_RUNS) runs, seed $(SOAK_SEED)"
	FLOWS_FAULT_RUNS=$(SOAK_RUNS) FLOWS_FAULT_AGENTS=4 FLOWS_FAULT_SEED=$(SOAK_SEED) \
		FLOWS_FAULT_PATIENCE=5400 FLOWS_FAULT_REPORT=$(CURDIR)/soak-report.json \
		$(PYTHON) -m pytest tests/e2e/test_faults_e2e.py -p no:randomly -s --timeout=6000

# ---------------------------------------------------------------- cleaning

clean: ## remove build output, caches and stamps (keeps .venv and node_modules)
	rm -rf lib tsconfig.tsbuildinfo jupyter_flows/labextension jupyter_flows/_version.py \
		.eslintcache .tmp ui-tests/test-results ui-tests/playwright-report \
		.pytest_cache .ruff_cache .mypy_cache \
		$(PY_STAMP) $(DEVELOP_STAMP) $(JS_STAMP) $(UI_JS_STAMP)
	find jupyter_flows tests -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean ## also remove .venv and node_modules
	rm -rf $(VENV) node_modules ui-tests/node_modules
