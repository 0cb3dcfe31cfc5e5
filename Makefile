# Every target sets the environment up first (tools/setup_env.sh is idempotent).
PY := .venv/bin/python
BCCD_ARGS ?= --parallel 2
export PYTHONWARNINGS ?= ignore::DeprecationWarning

.PHONY: setup demo test lint format bccd

setup:
	@bash tools/setup_env.sh

demo: setup
	$(PY) tools/demo.py $(DEMO_ARGS)

# The seeded accuracy study on BCCD (../shared/datasets/bccd), see benchmarks/bccd_accuracy.py
bccd: setup
	$(PY) benchmarks/bccd_accuracy.py $(BCCD_ARGS)

lint: setup
	$(PY) -m ruff check mmkd tools tests configs benchmarks && $(PY) tools/check_shipped_text.py

format: setup
	$(PY) -m ruff check --fix mmkd tools tests configs benchmarks

test: setup lint
	$(PY) -m pytest -q tests $(PYTEST_ARGS)
