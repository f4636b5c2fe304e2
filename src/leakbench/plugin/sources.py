"""Where a plugin option's value comes from, and the parsers that check one value.

``picker`` looks an option up in precedence order (command line, the
``LEAKBENCH_LEAKS`` environment variable for ``leaks`` only, pytest ini,
``[tool.leakbench]``) and returns the value with the name of its source; every parser
here turns a bad value into a ``pytest.UsageError`` that names that source, so a user
knows which file or flag to fix. ``leakbench.plugin.options`` declares the options and
builds the settings from these.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

import pytest

from leakbench._util.proc import total_ram
from leakbench._util.pyproject import PyprojectError, find_pyproject, read_tool_table
from leakbench._util.sizes import parse_size

__all__ = [
    "ENV_VAR",
    "FALSE",
    "TRUE",
    "Pick",
    "parse_above_zero",
    "parse_bool",
    "parse_limit",
    "parse_number",
    "picker",
    "tool_table",
]

ENV_VAR = "LEAKBENCH_LEAKS"
TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off", ""})

Pick = Callable[[str], "tuple[object, str] | None"]
"""Option name (also its ini and table key) -> (value, source) or None when unset."""

_TOOL_TABLE = pytest.StashKey[dict[str, Any]]()


def tool_table(config: pytest.Config) -> dict[str, Any]:
    """``[tool.leakbench]`` of the nearest pyproject.toml at or above the rootdir, read once
    per session; {} when there is none or it cannot be read (pytest reports a broken
    pyproject.toml itself when it uses it for its own configuration)."""
    table = config.stash.get(_TOOL_TABLE, None)
    if table is None:
        path = find_pyproject(config.rootpath)
        try:
            table = read_tool_table(path) if path is not None else {}
        except PyprojectError:
            table = {}
        config.stash[_TOOL_TABLE] = table
    return table


def picker(config: pytest.Config) -> Pick:
    """A lookup of one option's value over every source, highest precedence first."""
    table = tool_table(config)

    def pick(name: str) -> tuple[object, str] | None:
        value = config.getoption(name)
        if value is not None:
            return value, f"--{name.replace('_', '-')}"
        if name == "leaks" and os.environ.get(ENV_VAR):
            return os.environ[ENV_VAR], f"environment variable {ENV_VAR}"
        ini_value = config.getini(name)
        if ini_value not in ("", [], None):
            return ini_value, f"ini option {name}"
        if name in table:
            return table[name], f"[tool.leakbench] {name}"
        return None

    return pick


def parse_bool(value: object, source: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise pytest.UsageError(f"leakbench: {source}: expected true or false, got {value!r}")


def parse_number(value: object, source: str, kind: type[float] | type[int]) -> float:
    """A finite number >= 0 of ``kind``."""
    try:
        number = kind(str(value).strip())
    except ValueError:
        raise pytest.UsageError(
            f"leakbench: {source}: expected a {kind.__name__} number, got {value!r}"
        ) from None
    if number < 0 or not math.isfinite(number):
        raise pytest.UsageError(
            f"leakbench: {source}: expected a finite number >= 0, got {value!r}"
        )
    return number


def parse_above_zero(value: object, source: str, kind: type[float] | type[int]) -> float:
    """A finite number > 0 of ``kind`` (a count or a duration that 0 would make moot)."""
    number = parse_number(value, source, kind)
    if number <= 0:
        raise pytest.UsageError(f"leakbench: {source}: expected a number above 0, got {value!r}")
    return number


def parse_limit(value: object, source: str) -> tuple[int, str]:
    """Bytes and the option as given (``--leaks-max-rss=1GB``), for the guard's error."""
    text = str(value).strip()
    try:
        size = parse_size(text, total_ram() if "%" in text else None)
    except ValueError as exc:
        raise pytest.UsageError(f"leakbench: {source}: {exc}") from None
    if size <= 0:
        raise pytest.UsageError(f"leakbench: {source}: a memory limit must be above 0")
    shown = f"{source}={text}" if source.startswith("--") else f"{source} = {text}"
    return size, shown
