# modelguard: the two commands that matter are `make demo` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
export AIRFLOW_HOME ?= $(CURDIR)/.airflow
export MODELGUARD_CONFIG ?= $(CURDIR)/include/config/pipeline.yaml
export DO_NOT_TRACK = true
export MLFLOW_DISABLE_TELEMETRY = true
export GX_ANALYTICS_ENABLED = false
DAYS ?= 60
ROWS ?= 5000

.PHONY: install demo test lint up down status clean

# Needs only python3 (3.11): the venv comes from the standard library, uv is installed into the venv by its
# own pip and then told which interpreter to fill (`--python`); a uv elsewhere on PATH is never used.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
UV_VERSION := 0.13.8
# Trust the machine's certificate store (as pip and curl do), so a TLS-inspecting proxy's CA works.
export UV_SYSTEM_CERTS ?= 1
$(VENV)/.installed: requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "modelguard needs Python 3.11; set PYTHON=/path/to/python3.11")'
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	@test -x $(VENV)/bin/uv || $(VENV)/bin/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	@# --compile-bytecode: every task process and CLI run imports ~8 s of modules; without .pyc files (or where
	@# PYTHONDONTWRITEBYTECODE is set, as on CI images) each process compiles them again: 6-10 s per process
	@$(VENV)/bin/uv pip install -q --compile-bytecode --python $(VENV)/bin/python -r requirements.txt
	@$(VENV)/bin/uv pip install -q --python $(VENV)/bin/python --no-deps -e .
	@touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/modelguard simulate --days $(DAYS) --rows $(ROWS) --fresh
	$(VENV)/bin/modelguard init
	$(VENV)/bin/modelguard replay --all --operator-approves
	$(VENV)/bin/modelguard story

test: install
	@bash scripts/install_browser.sh
	@bash scripts/install_stack.sh
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest -q

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check include dags plugins tests benchmarks

up: install
	@bash scripts/up.sh

down:
	@bash scripts/down.sh

status: install
	$(VENV)/bin/modelguard status

clean:
	rm -rf data .airflow
