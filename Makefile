# The project's verbs. Every target that needs the virtualenv creates it first, so on a fresh
# machine `make demo` and `make test` work as the first command.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install codegen codegen-check lint format typecheck pytest test demo bench soak clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev,cli,bench,redis]"
	touch $(STAMP)

codegen: $(STAMP)
	$(PY) -m codegen

codegen-check: $(STAMP)
	$(PY) -m codegen --check

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(STAMP)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

typecheck: $(STAMP)
	$(PY) -m mypy

pytest: $(STAMP)
	$(PY) -m pytest -q

test: lint typecheck codegen-check pytest

demo: $(STAMP)
	$(PY) -m scaledmail_async demo

bench: $(STAMP)
	$(PY) bench/run_all.py

soak: $(STAMP)
	SCALEDMAIL_SOAK=full $(PY) -m pytest -q tests/reliability -m soak -s

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
