# The project's verbs. Every target that needs the virtualenv creates it first, so on a fresh
# machine `make demo` and `make test` work as the first command.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The second test environment: the newest aiohttp release, every pin of constraints.txt but its
# aiohttp one, and no aioresponses (the `mock` extra: it does not work on aiohttp 3.14).
VENV_LATEST := .venv-latest
PY_LATEST := $(VENV_LATEST)/bin/python
STAMP_LATEST := $(VENV_LATEST)/.installed
EXTRAS := dev,cli,bench,redis,docs,otel

.PHONY: install install-latest codegen codegen-check lint format typecheck pytest pytest-latest \
	test demo bench soak clean docs docs-build

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[$(EXTRAS),mock]"
	touch $(STAMP)

# Created once: `rm -rf .venv-latest` (or `make clean`) to pick up a newer aiohttp release.
install-latest: $(STAMP_LATEST)

$(STAMP_LATEST): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV_LATEST)
	$(PY_LATEST) -m pip install --quiet --upgrade pip
	grep -v -E '^aiohttp([<>=!~ ;]|$$)' constraints.txt > $(VENV_LATEST)/constraints.txt
	$(PY_LATEST) -m pip install --quiet --upgrade -c $(VENV_LATEST)/constraints.txt \
		-e ".[$(EXTRAS)]"
	touch $(STAMP_LATEST)

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

# The suite on the newest aiohttp; the test files that import aioresponses are left out there
# (tests/conftest.py says which).
pytest-latest: $(STAMP_LATEST)
	@$(PY_LATEST) -c "import aiohttp; print('aiohttp', aiohttp.__version__)"
	$(PY_LATEST) -m pytest -q

# The two suites run side by side (each mostly waits on sockets, timers and subprocesses: about
# 1.5 min of CPU in 4.5 min), each one's output printed whole when it ends.
test: lint typecheck codegen-check docs-build $(STAMP) $(STAMP_LATEST)
	$(MAKE) --no-print-directory -j2 --output-sync=target pytest pytest-latest

# The documentation site: `make docs` serves it with live reload (http://127.0.0.1:8000),
# `make docs-build` builds it with warnings as errors (into a temporary directory, removed after).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs serve

docs-build: $(STAMP)
	@site=$$(mktemp -d) && NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict \
		--site-dir "$$site"; status=$$?; rm -rf "$$site"; exit $$status

demo: $(STAMP)
	$(PY) -m scaledmail_async demo

bench: $(STAMP)
	$(PY) bench/run_all.py

soak: $(STAMP)
	SCALEDMAIL_SOAK=full $(PY) -m pytest -q tests/reliability -m soak -s

clean:
	rm -rf $(VENV) $(VENV_LATEST) .mypy_cache .ruff_cache .pytest_cache site
