# 舆情回应监测 — developer commands. `make help` lists them.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
DATA_DIR ?= var

.PHONY: help setup system-deps run test lint bench eval learn clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

setup: $(VENV)/.installed ## create .venv and install the project with its dev tools

system-deps: ## install the Debian packages the end-to-end tests use (needs root)
	./scripts/install-system-deps.sh

run: setup ## run the monitor on the embedded default (local broker, SQLite, Ziyang, demo source)
	$(VENV)/bin/monitor run --data-dir $(DATA_DIR)

lint: setup ## ruff, mypy and the import contracts
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

test: setup system-deps lint ## install everything, lint, run every test
	$(VENV)/bin/pytest -q -rs -p no:cacheprovider

LABELS := labels/ced.jsonl labels/thucnews.jsonl labels/cec.jsonl

eval: setup ## accuracy on the labelled development set (5-fold) and the CEC set (../shared/data)
	$(VENV)/bin/monitor eval $(LABELS)
	$(PY) -m benchmarks.eval_cec

learn: setup ## learn the shipped Ziyang model again from labels/ (needs ../shared/data)
	$(VENV)/bin/monitor learn $(LABELS) --out monitor/config/ziyang_model.yaml

bench: setup ## throughput benchmarks (print figures; nothing asserts on speed)
	$(PY) -m benchmarks.classify

clean: ## remove the virtualenv and local data
	rm -rf $(VENV) $(DATA_DIR) .mypy_cache .ruff_cache .pytest_cache
