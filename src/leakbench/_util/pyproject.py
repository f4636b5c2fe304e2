"""The project's ``pyproject.toml`` and its ``[tool.leakbench]`` table, found one way.

Both products read ``[tool.leakbench]``: the plugin its option keys (from pytest's
rootdir), the benchmark gate its budgets (from the working directory). Both take the
nearest ``pyproject.toml`` at or above their start folder, so a table that works for
one works for the other. What to do with a file that cannot be read differs (the plugin
ignores it, the gate refuses it), so the reader raises :class:`PyprojectError` naming
the file and the problem, and each caller decides.

The table is shared by two owners (the plugin's options, the gate's budgets), so neither
can tell alone whether a key is a typo: :func:`check_keys` takes the known keys of every
owner as an argument (``leakbench.plugin.options.TABLE_KEYS`` assembles them) and raises
:class:`UnknownKeyError` suggesting the closest known key.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "FILE_NAME",
    "PyprojectError",
    "UnknownKeyError",
    "check_keys",
    "closest_key",
    "find_pyproject",
    "read_tool_table",
]

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
    except RecursionError as exc:  # arrays or inline tables nested thousands deep
        raise PyprojectError(path, "invalid", "nested too deeply") from exc
    except ValueError as exc:  # TOMLDecodeError, UnicodeDecodeError, a 5,000-digit integer
        raise PyprojectError(path, "invalid", str(exc)) from exc
    tool = data.get("tool", {})
    table = tool.get("leakbench", {}) if isinstance(tool, dict) else {}
    if not isinstance(table, dict):
        raise PyprojectError(path, "not a table")
    return table


class UnknownKeyError(ValueError):
    """A key of a shared table that no owner knows; the message suggests the closest one."""

    def __init__(
        self,
        where: str,
        unknown: Collection[str],
        known: Collection[str],
        hints: Mapping[str, str] | None = None,
    ) -> None:
        self.unknown = tuple(unknown)
        self.suggestions = {key: closest_key(key, known) for key in self.unknown}
        hints = hints or {}
        parts = []
        for key in self.unknown:
            suggestion = self.suggestions[key]
            if key in hints:
                parts.append(f"{key!r} ({hints[key]})")
            elif suggestion:
                parts.append(f"{key!r} (did you mean {suggestion!r}?)")
            else:
                parts.append(repr(key))
        noun = "key" if len(parts) == 1 else "keys"
        message = f"{where}: unknown {noun} {', '.join(parts)}"
        if any(not self.suggestions[key] and key not in hints for key in self.unknown):
            message += f"; known keys: {', '.join(sorted(known))}"
        super().__init__(message)


def closest_key(key: str, known: Collection[str]) -> str | None:
    """The known key ``key`` most likely misspells: the closest by ``difflib`` (ignoring case
    and ``-`` for ``_``), else the one key whose part after its prefix is ``key``
    (``grace`` -> ``leaks_grace``); None when nothing is close."""
    normal = key.strip().lower().replace("-", "_")
    matches = difflib.get_close_matches(normal, list(known), n=1, cutoff=0.75)
    if matches:
        return matches[0]
    tails = [name for name in known if name.partition("_")[2] == normal]
    return tails[0] if len(tails) == 1 else None


def check_keys(
    table: Mapping[Any, object],
    known: Collection[str],
    where: str,
    hints: Mapping[str, str] | None = None,
) -> None:
    """Raise :class:`UnknownKeyError` (one line, naming ``where``) when ``table`` has a key
    outside ``known``: every owner's keys of a shared table, not one owner's. ``hints``: what
    to say about a key that is known elsewhere (a key of a sub-table, say) instead of a
    suggestion."""
    unknown = sorted({str(key) for key in table} - set(known))
    if unknown:
        raise UnknownKeyError(where, unknown, known, hints)
