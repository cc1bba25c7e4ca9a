# stemtui developer entry points.  Everything goes through scripts/setup.sh,
# which is idempotent and takes a few seconds when nothing needs installing.
#
#   make run ARGS="play song.wav"   run the app (no ARGS: open the TUI)
#   make test                       linters, then the full test suite (what CI runs)
#   make test PYTEST_ARGS="-k mixer -x"
#   make lint                       ruff check, ruff format --check, mypy, lint-imports
#   make bench                      mixer benchmark
#   make clean                      remove caches and build output (keeps .venv)
#   make distclean                  clean, and remove .venv too

SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
ARGS ?=
PYTEST_ARGS ?=

.PHONY: all setup setup-test run lint test bench clean distclean

all: test

setup:
	@bash scripts/setup.sh

setup-test:
	@bash scripts/setup.sh --test

run: setup
	$(VENV)/bin/stemtui $(ARGS)

# Every linter runs even when an earlier one fails, so one pass shows all the
# findings; any failure fails the target.  pyproject.toml configures them all
# (mypy checks stemtui/core; lint-imports checks the layering contracts).
LINTERS := "ruff check ." "ruff format --check ." "mypy" "lint-imports"
lint: setup-test
	@rc=0; for cmd in $(LINTERS); do \
	    echo "[lint] $$cmd"; $(VENV)/bin/$$cmd || rc=1; \
	done; \
	if [[ $$rc != 0 ]]; then echo "[lint] FAILED" >&2; fi; exit $$rc

# The linters first: a lint failure fails the target before any test runs.
# pytest's exit status is make's: any failure fails the target, and so does a
# run that collects no tests at all (pytest exits 5 for "no tests collected").
test: lint
	$(PY) -m pytest -q $(PYTEST_ARGS)

bench: setup
	$(PY) -m stemtui.bench mixer $(ARGS)

clean:
	rm -rf build dist .pytest_cache .hypothesis .mypy_cache .ruff_cache .import_linter_cache *.egg-info
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
