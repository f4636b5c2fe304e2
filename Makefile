# Two commands for a new user: `make bench` (the main job) and `make test`.
# Both create .venv from requirements.lock on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The oldest supported pytest, with only the plugin's own dependencies (no bench extra):
# requirements-oldest.lock, and leakbench installed from its wheel, as a user installs it.
OLDEST := .venv-oldest
OLDEST_DEPS := $(OLDEST)/.deps
OLDEST_STAMP := $(OLDEST)/.installed
SOURCES := $(shell find src -name '*.py' 2>/dev/null)

.PHONY: setup valgrind test lint typecheck unit oldest bench lock clean

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

# The plugin on the oldest supported pytest without the bench extra: one focused file.
# pytest-asyncio is not installed there, so its ini key in pyproject.toml is unknown: that
# one config warning is ignored (every other warning stays an error).
oldest: $(OLDEST_STAMP)
	$(OLDEST)/bin/python -m pytest -q -p no:cacheprovider -W ignore::pytest.PytestConfigWarning \
	  tests/test_plugin_oldest_pytest.py

$(OLDEST_DEPS): requirements-oldest.lock
	test -x $(OLDEST)/bin/python || $(PYTHON) -m venv $(OLDEST)
	$(OLDEST)/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-oldest.lock
	touch $(OLDEST_DEPS)

# The wheel is built with .venv's hatchling and installed without dependencies (the lock
# has them), again whenever the source changes.
$(OLDEST_STAMP): $(OLDEST_DEPS) $(STAMP) pyproject.toml $(SOURCES)
	rm -rf $(OLDEST)/wheel
	$(BIN)/python -m hatchling build -t wheel -d $(OLDEST)/wheel >/dev/null
	$(OLDEST)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --force-reinstall $(OLDEST)/wheel/leakbench-*.whl
	touch $(OLDEST_STAMP)

test: lint typecheck unit oldest

# leakbench bench exits 0 (within budget), 1 (regression), 2 (bad input, no baseline), 130
# (interrupted). make turns any failure into its own exit status 2, so the line below names
# the real one; CI that must tell 1 from 2 runs `.venv/bin/leakbench bench` after `make setup`.
# BENCH_ARGS passes options through, e.g. `make bench BENCH_ARGS="threads --no-compare"`.
bench: setup
	@echo "$(BIN)/python -m leakbench bench $(BENCH_ARGS)"
	@$(BIN)/python -m leakbench bench $(BENCH_ARGS); code=$$?; \
	  $(BIN)/python -m leakbench report --html .leakbench/report/index.html || true; \
	  [ $$code -eq 0 ] || { echo "make bench: leakbench bench exited $$code (1 regression, 2 bad input or no baseline, 130 interrupted)" >&2; exit $$code; }

# Regenerate the locks after changing dependencies in pyproject.toml (uv: pip install uv).
# requirements-oldest.lock: the oldest pytest the package supports and the plugin's own
# dependencies, nothing of the bench extra.
lock:
	uv pip compile pyproject.toml --extra bench --extra suites --extra dev --python-version 3.11 --generate-hashes --no-strip-extras -o requirements.lock
	printf 'pytest==8.0.*\npsutil>=6\npympler>=1.1\n' | uv pip compile - --python-version 3.11 --generate-hashes --custom-compile-command "make lock" -o requirements-oldest.lock

clean:
	rm -rf $(VENV) $(OLDEST) .leakbench
