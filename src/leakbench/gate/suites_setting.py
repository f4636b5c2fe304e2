"""Where a project's scenarios live: ``[tool.leakbench] suites``, the default of ``--suites``.

A project names its scenario package once in ``pyproject.toml``::

    [tool.leakbench]
    suites = "benchmarks"

and every command that takes ``--suites`` (``bench``, ``compare-branches``) uses it; the
command line wins. Without the key the default stays ``suites``. The value must be a dotted
Python name, checked here as ``--suites`` checks its value, so a typo in the file is one line
naming the file and the key (exit 2), never a late import error.
"""

from __future__ import annotations

from pathlib import Path

from leakbench._util.pyproject import PyprojectError, find_pyproject, read_tool_table

__all__ = ["DEFAULT_SUITES", "KEY", "TABLE_KEYS", "SuitesSettingError", "is_dotted", "read_suites"]

KEY = "suites"
DEFAULT_SUITES = "suites"
TABLE_KEYS: frozenset[str] = frozenset({KEY})
"""This module's keys of ``[tool.leakbench]`` (joined into the one list of known keys by
``leakbench.plugin.options.TABLE_KEYS``)."""


class SuitesSettingError(ValueError):
    """``[tool.leakbench] suites`` is not a dotted name, or the file cannot be read."""


def is_dotted(value: object) -> bool:
    """Whether ``value`` is a dotted Python name such as ``benchmarks`` or ``tests.bench``."""
    return isinstance(value, str) and all(part.isidentifier() for part in value.split("."))


def read_suites(start: Path | None = None) -> tuple[str, str]:
    """``(package, source)``: the ``suites`` key of the nearest ``pyproject.toml`` at or above
    ``start`` (default: the cwd) and where it came from, or ``("suites", "default")``.

    Raises :class:`SuitesSettingError` for a value that is not a dotted name, or a
    ``pyproject.toml`` that cannot be read (the message names the file)."""
    path = find_pyproject(start)
    if path is None:
        return DEFAULT_SUITES, "default"
    try:
        table = read_tool_table(path)
    except PyprojectError as exc:
        raise SuitesSettingError(str(exc)) from exc
    if KEY not in table:
        return DEFAULT_SUITES, "default"
    value = table[KEY]
    if not is_dotted(value):
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:60] + "..."
        raise SuitesSettingError(
            f"{path} [tool.leakbench] suites: expected the dotted name of a package of "
            f'scenario modules, such as "benchmarks", got {shown}'
        )
    return str(value), f"{path} [tool.leakbench]"
