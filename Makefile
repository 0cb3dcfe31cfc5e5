# Every target sets the environment up first (tools/setup_env.sh is idempotent).
PY := .venv/bin/python
export PYTHONWARNINGS ?= ignore::DeprecationWarning

.PHONY: setup demo test lint format

setup:
	@bash tools/setup_env.sh

demo: setup
	$(PY) tools/demo.py $(DEMO_ARGS)

lint: setup
	$(PY) -m ruff check mmkd tools tests configs benchmarks

format: setup
	$(PY) -m ruff check --fix mmkd tools tests configs benchmarks

test: setup lint
	$(PY) -m pytest -q tests $(PYTEST_ARGS)
