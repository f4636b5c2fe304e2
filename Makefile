# Two commands for a new user: `make bench` (the main job) and `make test`.
# Both create .venv from requirements.lock on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup valgrind test lint typecheck unit bench lock clean

setup: $(STAMP) valgrind

# The instruction pass of `leakbench bench` counts CPU instructions under Valgrind. Installed
# from Debian's package where this runs as root with apt-get; elsewhere a note (the bench
# then says in one line that it has no instruction counts, and gates on the rest).
valgrind:
	@command -v valgrind >/dev/null && command -v callgrind_control >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind) >/dev/null 2>&1 \
	      || echo "valgrind could not be installed; leakbench bench will run without instruction counts"; \
	  else \
	    echo "note: valgrind is not installed (apt-get install valgrind); leakbench bench will run without instruction counts"; \
	  fi; }

# Re-install only when the lock or the project metadata changed.
$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

lint: setup
	$(BIN)/ruff check src tests suites fixtures bench examples
	$(BIN)/ruff format --check src tests suites fixtures bench examples

typecheck: setup
	$(BIN)/mypy

unit: setup
	$(BIN)/python -m pytest -q -n 2 -p no:randomly

test: lint typecheck unit

# leakbench bench exits 0 (within budget), 1 (regression), 2 (bad input, no baseline), 130
# (interrupted). make turns any failure into its own exit status 2, so the line below names
# the real one; CI that must tell 1 from 2 runs `.venv/bin/leakbench bench` after `make setup`.
# BENCH_ARGS passes options through, e.g. `make bench BENCH_ARGS="threads --no-compare"`.
bench: setup
	@echo "$(BIN)/python -m leakbench bench $(BENCH_ARGS)"
	@$(BIN)/python -m leakbench bench $(BENCH_ARGS); code=$$?; \
	  $(BIN)/python -m leakbench report --html .leakbench/report/index.html || true; \
	  [ $$code -eq 0 ] || { echo "make bench: leakbench bench exited $$code (1 regression, 2 bad input or no baseline, 130 interrupted)" >&2; exit $$code; }

# Regenerate the lock after changing dependencies in pyproject.toml.
lock:
	uv pip compile pyproject.toml --extra suites --extra dev --python-version 3.11 --generate-hashes -o requirements.lock

clean:
	rm -rf $(VENV) .leakbench
