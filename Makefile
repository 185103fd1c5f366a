# modelguard: the two commands that matter are `make demo` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
export AIRFLOW_HOME ?= $(CURDIR)/.airflow
export MODELGUARD_CONFIG ?= $(CURDIR)/include/config/pipeline.yaml
export DO_NOT_TRACK = true
export MLFLOW_DISABLE_TELEMETRY = true
export GX_ANALYTICS_ENABLED = false
DAYS ?= 60
ROWS ?= 5000

.PHONY: install demo test lint up down status clean

$(VENV)/.installed: requirements.txt pyproject.toml
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install -q --disable-pip-version-check uv==0.13.8
	@$(UV) venv -q --allow-existing $(VENV) -p 3.11
	@VIRTUAL_ENV=$(VENV) $(UV) pip install -q -r requirements.txt
	@VIRTUAL_ENV=$(VENV) $(UV) pip install -q --no-deps -e .
	@touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/modelguard simulate --days $(DAYS) --rows $(ROWS) --fresh
	$(VENV)/bin/modelguard init
	$(VENV)/bin/modelguard replay --all --operator-approves
	$(VENV)/bin/modelguard story

test: install
	@bash scripts/install_browser.sh
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
