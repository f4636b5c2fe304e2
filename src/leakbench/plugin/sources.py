"""Where a plugin option's value comes from, and the parsers that check one value.

``picker`` looks an option up in precedence order (command line, the
``LEAKBENCH_LEAKS`` environment variable for ``leaks`` only, pytest ini,
``[tool.leakbench]``) and returns the value with the name of its source; every parser
here turns a bad value into a one-line ``pytest.UsageError`` that names that source and
what is expected, so a user knows which file or flag to fix. A ``[tool.leakbench]`` source
names its file (``pyproject.toml [tool.leakbench] leaks_grace``). ``leakbench.plugin.options``
declares the options, type-checks the table and builds the settings from these.

``check_output`` guards every file an option writes (``--leaks-json``, ``--leaks-bench-json``):
an existing file is replaced only when it is a document of the kind that option writes, so a
mistyped command (``pytest --leaks-bench-json tests/test_x.py``) cannot destroy a test file or
anyone else's file. It runs when the options are resolved, before any test.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from leakbench._util.output_guard import json_document, refusal
from leakbench._util.proc import total_ram
from leakbench._util.pyproject import PyprojectError, find_pyproject, read_tool_table
from leakbench._util.sizes import parse_size

__all__ = [
    "ENV_VAR",
    "FALSE",
    "TOOL_TABLE",
    "TRUE",
    "Pick",
    "check_output",
    "parse_above_zero",
    "parse_bool",
    "parse_limit",
    "parse_number",
    "picker",
    "shown",
    "table_label",
    "tool_table",
]

ENV_VAR = "LEAKBENCH_LEAKS"
TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})

Pick = Callable[[str], "tuple[object, str] | None"]
"""Option name (also its ini and table key) -> (value, source) or None when unset."""

TOOL_TABLE = pytest.StashKey[tuple[dict[str, Any], str]]()
"""The table and its label (``pyproject.toml [tool.leakbench]``), read once per session."""


def tool_table(config: pytest.Config) -> dict[str, Any]:
    """``[tool.leakbench]`` of the nearest pyproject.toml at or above the rootdir, read once
    per session; {} when there is none or it cannot be read (pytest reports a broken
    pyproject.toml itself when it uses it for its own configuration)."""
    return _read_table(config)[0]


def table_label(config: pytest.Config) -> str:
    """``pyproject.toml [tool.leakbench]``: the file as seen from where pytest was started
    (absolute when it is not below it), for the errors about its keys."""
    return _read_table(config)[1]


def _read_table(config: pytest.Config) -> tuple[dict[str, Any], str]:
    read = config.stash.get(TOOL_TABLE, None)
    if read is None:
        path = find_pyproject(config.rootpath)
        try:
            table = read_tool_table(path) if path is not None else {}
        except PyprojectError:
            table = {}
        read = table, f"{_relative(path, config.invocation_params.dir)} [tool.leakbench]"
        config.stash[TOOL_TABLE] = read
    return read


def _relative(path: Path | None, start: Path) -> str:
    if path is None:
        return "pyproject.toml"
    try:
        return str(path.relative_to(start.resolve()))
    except ValueError:
        return str(path)


def shown(value: object, limit: int = 60) -> str:
    """``repr(value)`` for a one-line error, shortened when it is long."""
    try:
        text = repr(value)
    except ValueError:  # an integer of thousands of digits
        return "a number too long to show"
    return text if len(text) <= limit else f"{text[:limit]}..."


def picker(config: pytest.Config) -> Pick:
    """A lookup of one option's value over every source, highest precedence first."""
    table = tool_table(config)
    label = table_label(config)

    def pick(name: str) -> tuple[object, str] | None:
        value = config.getoption(name)
        if value is not None:
            return value, f"--{name.replace('_', '-')}"
        if name == "leaks" and os.environ.get(ENV_VAR):
            return os.environ[ENV_VAR], f"environment variable {ENV_VAR}"
        ini_value = config.getini(name)
        if ini_value not in ("", [], None):
            if not isinstance(ini_value, str):  # a list in [tool.pytest.ini_options]
                raise pytest.UsageError(
                    f"leakbench: ini option {name}: expected one value, got {shown(ini_value)}"
                )
            return ini_value, f"ini option {name}"
        if name in table:
            return table[name], f"{label} {name}"
        return None

    return pick


def parse_bool(value: object, source: str) -> bool:
    """``true``/``false`` (TOML), or ``1``/``yes``/``on``, ``0``/``no``/``off`` as text."""
    if isinstance(value, bool):
        return value
    text = value.strip().lower() if isinstance(value, str) else None
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise pytest.UsageError(f"leakbench: {source}: expected true or false, got {shown(value)}")


def number_wanted(
    kind: type[float] | type[int],
    above_zero: bool = False,
    maximum: float | None = None,
    unit: str = "",
) -> str:
    """What :func:`parse_number` accepts, in words: ``a whole number >= 0``, ``a number of
    seconds from 0 to 60``."""
    noun = "a whole number" if kind is int else "a finite number" if not unit else "a number"
    if unit:
        noun += f" of {unit}"
    if maximum is None:
        low = "above 0" if above_zero else ">= 0"
    else:
        low = f"above 0 and at most {maximum:g}" if above_zero else f"from 0 to {maximum:g}"
    return f"{noun} {low}"


def parse_number(
    value: object,
    source: str,
    kind: type[float] | type[int],
    *,
    above_zero: bool = False,
    maximum: float | None = None,
    unit: str = "",
) -> float:
    """A finite number >= 0 (> 0 with ``above_zero``, at most ``maximum``) of ``kind``, from
    a number or its text; anything else is a usage error saying what is expected."""
    wanted = number_wanted(kind, above_zero, maximum, unit)
    problem = pytest.UsageError(f"leakbench: {source}: expected {wanted}, got {shown(value)}")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise problem
    try:
        number = kind(str(value).strip())
    except (ValueError, OverflowError):
        raise problem from None
    if isinstance(number, float) and not math.isfinite(number):
        raise problem
    if number < 0 or (above_zero and number == 0):
        raise problem
    if maximum is not None and number > maximum:
        raise problem
    return number


def parse_above_zero(value: object, source: str, kind: type[float] | type[int]) -> float:
    """A finite number > 0 of ``kind`` (a count or a duration that 0 would make moot)."""
    return parse_number(value, source, kind, above_zero=True)


def parse_limit(value: object, source: str) -> tuple[int, str]:
    """Bytes and the option as given (``--leaks-max-rss=1GB``), for the guard's error."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise pytest.UsageError(
            f"leakbench: {source}: expected a size such as '2GB', '512MiB' or '75%', "
            f"got {shown(value)}"
        )
    text = str(value).strip()
    try:
        size = parse_size(text, total_ram() if "%" in text else None)
    except ValueError as exc:
        raise pytest.UsageError(f"leakbench: {source}: {exc}") from None
    if size <= 0:
        raise pytest.UsageError(f"leakbench: {source}: a memory limit must be above 0")
    given = f"{source}={text}" if source.startswith("--") else f"{source} = {text}"
    return size, given


def check_output(path: Path, schema: str, source: str, shown_as: str) -> Path:
    """``path`` when writing it destroys nothing that leakbench did not write: it does not
    exist, is empty, or is a JSON document whose ``schema`` is ``schema``. Anything else
    (a test file, another tool's JSON, a folder) is a one-line usage error naming the file
    (``shown_as``, as the user would write it) and the option (``source``); the rule is
    ``leakbench._util.output_guard``'s, shared with the command line's options."""
    reason = refusal(path, json_document(schema), source, shown_as)
    if reason is not None:
        raise pytest.UsageError(f"leakbench: {reason}")
    return path
