"""The ``leakbench`` fixture's options: declared on the command line and resolved.

``--leaks-bench`` (a flag, so a following test path stays a path), ``--leaks-bench-json PATH``,
``--leaks-bench-iterations``, ``--leaks-bench-seconds``: their ini / ``[tool.leakbench]`` keys
and help texts are declared with every other plugin key in ``leakbench.plugin.options``
(``BENCH_KEYS``), read by the same sources and precedence (``leakbench.plugin.sources``). The
old names (``RENAMED``: ``--leakbench-bench[=PATH]``, whose optional value took a following
test path as the results file, ``--leakbench-iterations``, ``--leakbench-seconds``) stay
declared, hidden, so that using one is refused with the new name. The results file is checked
when the options are resolved, before any test runs (``sources.check_output``).

Declared by ``leakbench.plugin.bench``'s own hook: that entry point can be loaded (or
disabled with ``-p no:leakbench_bench``) on its own.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from leakbench.gate.results import SCHEMA as RESULTS_SCHEMA
from leakbench.plugin.options import (
    BENCH_KEYS,
    DEFAULT_BENCH_PATH,
    DEFAULT_ITERATIONS,
    DEFAULT_SECONDS,
    HELP_BENCH,
    HELP_BENCH_JSON,
    HELP_ITERATIONS,
    HELP_SECONDS,
    RENAMED,
    add_ini,
    check_table,
    output_path,
)
from leakbench.plugin.sources import (
    check_output,
    parse_above_zero,
    parse_bool,
    parse_number,
    picker,
)

__all__ = ["BenchSettings", "add_bench_options", "resolve_bench"]


@dataclass(frozen=True)
class BenchSettings:
    """The resolved options of the ``leakbench`` fixture and marker."""

    results: Path | None = None
    """Where the results file goes (absolute); None: measuring is off."""
    iterations: int = DEFAULT_ITERATIONS
    seconds: float = DEFAULT_SECONDS


def add_bench_options(parser: pytest.Parser) -> None:
    """Declared by ``leakbench.plugin.bench``'s own hook: that entry point can be loaded
    (or disabled with ``-p no:leakbench_bench``) on its own."""
    group = parser.getgroup("leakbench-bench", "leakbench: measure marked tests")
    # A flag and a PATH option with a required value: no optional value can swallow the
    # test path that follows (``pytest --leaks-bench tests/test_x.py``).
    group.addoption("--leaks-bench", action="store_true", default=None, help=HELP_BENCH)
    group.addoption("--leaks-bench-json", default=None, metavar="PATH", help=HELP_BENCH_JSON)
    group.addoption("--leaks-bench-iterations", default=None, metavar="N", help=HELP_ITERATIONS)
    group.addoption("--leaks-bench-seconds", default=None, metavar="SECONDS", help=HELP_SECONDS)
    add_ini(parser, BENCH_KEYS)
    for old, new in RENAMED.items():  # refused by resolve_bench, hidden from --help
        flag = "--" + old.replace("_", "-")
        extra: dict[str, Any] = {"nargs": "?", "const": ""} if old == "leakbench_bench" else {}
        group.addoption(flag, dest=old, default=None, help=argparse.SUPPRESS, **extra)
        parser.addini(old, f"renamed: use {new}", default="")


def resolve_bench(config: pytest.Config) -> BenchSettings:
    """The fixture's options, by the same sources and precedence as ``resolve``; the results
    file is checked now (``check_output``), before any test runs."""
    check_table(config)
    _refuse_renamed(config)
    pick = picker(config)
    bench, where, iterations, seconds = (
        pick(name)
        for name in (
            "leaks_bench",
            "leaks_bench_json",
            "leaks_bench_iterations",
            "leaks_bench_seconds",
        )
    )
    on = parse_bool(*bench) if bench else False
    if where is not None and where[1].startswith("--"):
        on = True  # given on the command line, the path turns measuring on
    results = None
    if on and where is not None:
        results = output_path(config, *where, RESULTS_SCHEMA)
    elif on:
        source = bench[1] if bench else "--leaks-bench"
        default = config.rootpath / DEFAULT_BENCH_PATH
        results = check_output(default, RESULTS_SCHEMA, source, DEFAULT_BENCH_PATH)
    return BenchSettings(
        results=results,
        iterations=int(parse_above_zero(*iterations, int)) if iterations else DEFAULT_ITERATIONS,
        seconds=(
            float(parse_number(*seconds, float, above_zero=True, unit="seconds"))
            if seconds
            else DEFAULT_SECONDS
        ),
    )


def _refuse_renamed(config: pytest.Config) -> None:
    """One line naming the new option for an old one given on the command line or in the ini
    file (the table's old keys are refused by ``check_table``, with the same hint)."""
    for old, new in RENAMED.items():
        flag = "--" + old.replace("_", "-")
        if config.getoption(old) is not None:
            given, use = flag, "--" + new.replace("_", "-")
        elif config.getini(old) not in ("", [], None):
            given, use = f"ini option {old}", new
        else:
            continue
        where = " (and --leaks-bench-json PATH for where)" if old == "leakbench_bench" else ""
        raise pytest.UsageError(f"leakbench: {given} was renamed: use {use}{where}")
