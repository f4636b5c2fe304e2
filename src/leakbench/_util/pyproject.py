"""The project's ``pyproject.toml`` and its ``[tool.leakbench]`` table, found one way.

Both products read ``[tool.leakbench]``: the plugin its option keys (from pytest's
rootdir), the benchmark gate its budgets (from the working directory). Both take the
nearest ``pyproject.toml`` at or above their start folder, so a table that works for
one works for the other. What to do with a file that cannot be read differs (the plugin
ignores it, the gate refuses it), so the reader raises :class:`PyprojectError` naming
the file and the problem, and each caller decides.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

__all__ = ["FILE_NAME", "PyprojectError", "find_pyproject", "read_tool_table"]

FILE_NAME = "pyproject.toml"

Problem = Literal["unreadable", "invalid", "not a table"]


class PyprojectError(ValueError):
    """``pyproject.toml`` cannot be read, is not TOML, or its ``[tool.leakbench]`` is not
    a table."""

    def __init__(self, path: Path, problem: Problem, detail: str = "") -> None:
        self.path = path
        self.problem: Problem = problem
        self.detail = detail
        """The OS or TOML parser's own words ('' for ``not a table``)."""
        if problem == "unreadable":
            message = f"{path}: cannot read ({detail})"
        elif problem == "invalid":
            message = f"{path}: invalid TOML ({detail})"
        else:
            message = f"{path} [tool.leakbench]: expected a table"
        super().__init__(message)


def find_pyproject(start: Path | None = None) -> Path | None:
    """The nearest ``pyproject.toml`` at or above ``start`` (default: the cwd), or None."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / FILE_NAME
        if candidate.is_file():
            return candidate
    return None


def read_tool_table(path: Path) -> dict[str, Any]:
    """The ``[tool.leakbench]`` table of ``path`` ({} when it has none).

    Raises :class:`PyprojectError` when the file cannot be read or parsed, or when
    ``tool.leakbench`` is there but is not a table.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PyprojectError(path, "unreadable", str(exc.strerror or exc)) from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise PyprojectError(path, "invalid", str(exc)) from exc
    tool = data.get("tool", {})
    table = tool.get("leakbench", {}) if isinstance(tool, dict) else {}
    if not isinstance(table, dict):
        raise PyprojectError(path, "not a table")
    return table
