# Dojo Pulse — everything runs from a fresh clone: `make run`, `make test`.
# The targets install what they need (Python packages into .venv, Debian packages with apt)
# and start what they need (Kafka from Maven Central's official jars, Redis).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
APT    := $(shell [ "$$(id -u)" = 0 ] && echo apt-get || echo sudo apt-get)
PYTEST_ARGS ?=
LOCK_ARGS ?=

.PHONY: help run test check lint typecheck bench infra-up infra-down system browser-deps beacon clean lock

help:  ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

# requirements.lock pins every package, transitive ones included; as a constraints file it keeps
# the editable install of the project itself working.
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c requirements.lock -e '.[dev]'
	touch $(STAMP)

# pip-tools lives in its own venv so that resolving never changes what the product runs with.
# It keeps the pins already in requirements.lock; LOCK_ARGS='--upgrade-package NAME' or
# LOCK_ARGS=--upgrade moves them.
LOCK_TOOLS := $(VENV)/lock-tools

$(LOCK_TOOLS)/bin/pip-compile:
	$(PYTHON) -m venv $(LOCK_TOOLS)
	$(LOCK_TOOLS)/bin/pip install -q pip-tools==7.6.2

lock: $(LOCK_TOOLS)/bin/pip-compile  ## Re-resolve requirements.lock from pyproject.toml (LOCK_ARGS=--upgrade: newest)
	CUSTOM_COMPILE_COMMAND='make lock' $(LOCK_TOOLS)/bin/pip-compile -q --extra dev --strip-extras \
		--allow-unsafe --no-emit-find-links --no-emit-index-url $(LOCK_ARGS) \
		-o requirements.lock pyproject.toml

system:  ## Debian packages the product needs (redis-server, nginx, promtool, postgresql, wrk; Java 17 and Maven are checked)
	@command -v java >/dev/null || { echo "Java 17+ is required (apt-get install openjdk-17-jre-headless)"; exit 1; }
	@command -v mvn >/dev/null || { echo "Maven is required to fetch Kafka (apt-get install maven)"; exit 1; }
	@command -v redis-server >/dev/null || { $(APT) update -qq && $(APT) install -y -qq redis-server >/dev/null; }
	@# nginx: the integration tests run the collector behind a real reverse proxy.
	@test -x /usr/sbin/nginx || command -v nginx >/dev/null || { $(APT) update -qq && $(APT) install -y -qq nginx >/dev/null; }
	@# promtool: the integration tests pass every process's /metrics to `promtool check metrics`.
	@# (Where systemd runs, Debian starts a Prometheus server on :9090; no test uses that port.)
	@command -v promtool >/dev/null || { $(APT) update -qq && $(APT) install -y -qq --no-install-recommends prometheus >/dev/null; }
	@# postgresql: the store tests run on a private PostgreSQL too (infra/postgres.py starts it).
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { $(APT) update -qq && $(APT) install -y -qq postgresql >/dev/null; }
	@# wrk: bench/door.py loads the collector with a generator that is not the product's code.
	@command -v wrk >/dev/null || { $(APT) update -qq && $(APT) install -y -qq wrk >/dev/null; }

browser-deps:  ## Headless Chromium and its driver for the browser tests
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		{ $(APT) update -qq && $(APT) install -y -qq chromium chromium-driver >/dev/null; }

beacon: $(STAMP)  ## Vendor the beacon's web-vitals as pinned in collector/ (npm ci checks it)
	cd collector && npm ci --ignore-scripts --no-audit --no-fund
	$(BIN)/python -m collector.web_vitals

infra-up: $(STAMP) system  ## Start Kafka and Redis locally (idempotent)
	$(BIN)/dojo-pulse infra up

infra-down: $(STAMP)  ## Stop the Kafka and Redis that infra-up started
	$(BIN)/dojo-pulse infra down

run: infra-up  ## Run everything locally with simulated traffic; prints the panel URL
	$(BIN)/dojo-pulse run

test: infra-up browser-deps  ## Run the whole test suite (unit, agents, web, integration, browser)
	$(BIN)/pytest -p no:cacheprovider $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck  ## ruff (lint + format) and mypy --strict

bench: infra-up  ## Benchmarks under bench/ (about an hour: a million-event day included), figures in bench/results/
	$(BIN)/python -m bench --sizes 100000,1000000 --scale-out

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache test-output
