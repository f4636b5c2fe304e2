"""How much a scenario may regress before ``leakbench compare`` fails.

Budgets live in ``[tool.leakbench]`` of ``pyproject.toml`` so that they are
reviewed with the code they guard::

    [tool.leakbench]
    memory_budget = 0.20        # +20% per gated memory metric
    time_budget = 0.10          # +10% on the reference-normalised time ratio
    memory_floor = "64KiB"      # memory differences below this never fail
    instructions_floor = 1000   # instructions/iteration differences below this never fail

    [tool.leakbench.scenarios."httpx.leaky"]
    memory_budget = 0.5
    reason = "pool grows until #123 lands"

Precedence, most specific first: the ``leakbench`` marker of a test, the
per-scenario table, the global keys, the defaults. A per-scenario table with a
``reason`` is an *acknowledged* regression: the report says "accepted: <reason>"
whenever the override, and not the global budget, is what let a change pass.
Every bad value raises :class:`BudgetError` naming where it came from, because a
silently ignored budget is worse than none.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from leakbench._util import sizes
from leakbench._util.pyproject import (
    PyprojectError,
    UnknownKeyError,
    check_keys,
    closest_key,
    find_pyproject,
    read_tool_table,
)

DEFAULT_MEMORY_BUDGET = 0.20
DEFAULT_TIME_BUDGET = 0.10
DEFAULT_MEMORY_FLOOR = 64 * 1024
DEFAULT_INSTRUCTIONS_FLOOR = 1000
"""Instructions per iteration below which a change never fails (or counts as improved): a
clean scenario of a few thousand instructions is then never judged on a few hundred."""

MEMORY_METRICS: tuple[str, ...] = (
    "retained_per_iteration",
    "retained_bytes",
    "peak_bytes",
    "total_allocated_bytes",
    "allocations",
)
"""Every memory metric a report shows, in display order."""

DEFAULT_GATED_METRICS: tuple[str, ...] = ("retained_per_iteration", "retained_bytes", "peak_bytes")
"""Metrics that fail the gate by default.

``retained_per_iteration`` is the leak signature; ``retained_bytes`` also catches
one-off retention (a cache filled once) that a slope misses; ``peak_bytes`` is
what runs a process out of memory. ``total_allocated_bytes`` and ``allocations``
count churn that is freed again: its cost shows up as time, which has its own
gate, so they are shown but do not fail.
"""

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMG]i?B|B)?\s*$", re.IGNORECASE)
"""The forms a budget accepts: a subset of ``leakbench._util.sizes`` (no ``T``, ``%`` or ``1.``)."""
_GLOBAL_KEYS = {
    "memory_budget",
    "time_budget",
    "memory_floor",
    "instructions_floor",
    "memory_metrics",
    "scenarios",
}
_SCENARIO_KEYS = {"memory_budget", "time_budget", "memory_floor", "instructions_floor", "reason"}
TABLE_KEYS: frozenset[str] = frozenset(_GLOBAL_KEYS)
"""The gate's keys of ``[tool.leakbench]``; the table is shared with the plugin's options, and
``leakbench.plugin.options.TABLE_KEYS`` joins both into the one list of known keys."""
TABLE_HINTS: dict[str, str] = {
    key: 'a key of [tool.leakbench.scenarios."NAME"] tables, not of [tool.leakbench]'
    for key in sorted(_SCENARIO_KEYS - _GLOBAL_KEYS)
}
"""What an unknown-key error says about a per-scenario key put in the main table."""


class BudgetError(ValueError):
    """A budget setting that cannot be used; the message names its source."""


@dataclass(frozen=True)
class Budget:
    """The effective limits for one scenario."""

    memory: float = DEFAULT_MEMORY_BUDGET
    """Allowed relative growth of each gated memory metric (0.2 = +20%)."""
    time: float = DEFAULT_TIME_BUDGET
    """Allowed relative growth of instructions per iteration (and of the wall-time change in
    the ABBA pairs of ``compare-branches``)."""
    memory_floor: int = DEFAULT_MEMORY_FLOOR
    """Absolute bytes below which a memory difference never fails."""
    instructions_floor: int = DEFAULT_INSTRUCTIONS_FLOOR
    """Instructions per iteration below which a difference never fails."""
    reason: str = ""
    """Why this scenario has its own budget; non-empty makes it an acknowledged regression."""
    source: str = "defaults"
    """Where the budget came from, for reports and error messages."""


@dataclass(frozen=True)
class BudgetConfig:
    """Global budgets plus per-scenario overrides, as read from ``[tool.leakbench]``."""

    default: Budget = field(default_factory=Budget)
    scenarios: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Raw, validated per-scenario override tables keyed by scenario name."""
    gated_metrics: tuple[str, ...] = DEFAULT_GATED_METRICS
    source: str = "defaults"

    def for_scenario(self, name: str, marker: Mapping[str, Any] | None = None) -> Budget:
        """The budget of ``name``: marker > per-scenario table > global > defaults."""
        budget = self.default
        table = self.scenarios.get(name)
        if table is not None:
            where = f"{self.source} [tool.leakbench.scenarios.{_quoted_key(name)}]"
            budget = _apply(budget, table, where)
        if marker:
            budget = _apply(
                budget, _check_table(marker, f"leakbench marker of {_escaped(name)}"), "marker"
            )
        return budget


def parse_size(value: object, where: str) -> int:
    """Bytes from ``65536``, ``"64KiB"``, ``"1.5 MiB"`` or ``"100kB"``."""
    if isinstance(value, bool):
        raise BudgetError(f"{where}: expected a size such as 65536 or '64KiB', got {value!r}")
    if isinstance(value, int | float):
        if value < 0 or (isinstance(value, float) and not math.isfinite(value)):
            raise BudgetError(f"{where}: a size must be a finite number >= 0, got {value!r}")
        return int(value)
    if isinstance(value, str) and _SIZE.match(value):
        with contextlib.suppress(ValueError):  # too large to be finite
            return sizes.parse_size(value)
    raise BudgetError(f"{where}: expected a size such as 65536 or '64KiB', got {_shown(value)}")


def parse_count(value: object, where: str) -> int:
    """A non-negative whole count such as ``1000`` (an instructions floor)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, float) and math.isfinite(value) and value >= 0:
        return int(value)
    # ASCII digits only ("²" is a digit to str.isdigit but not to int), and few enough of
    # them that int() does not refuse the string as too long.
    text = value.strip() if isinstance(value, str) else ""
    if text.isascii() and text.isdigit() and len(text) <= 30:
        return int(text)
    raise BudgetError(f"{where}: expected a count >= 0 such as 1000, got {_shown(value)}")


def parse_fraction(value: object, where: str) -> float:
    """A relative budget from ``0.2`` or ``"20%"``; negative budgets make no sense."""
    result: float | None = None
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            result = float(value)
        elif isinstance(value, str):
            text = value.strip()
            result = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except (ValueError, OverflowError):  # not a number; an integer too large for a float
        result = None
    if result is None or not math.isfinite(result) or result < 0:
        raise BudgetError(
            f"{where}: expected a fraction >= 0 such as 0.2 or '20%', got {_shown(value)}"
        )
    return result


def _check_keys(
    table: Mapping[str, Any],
    known: Collection[str],
    where: str,
    hints: Mapping[str, str] | None = None,
) -> None:
    try:
        check_keys(table, known, where, hints)
    except UnknownKeyError as exc:
        raise BudgetError(str(exc)) from None


def _shown(value: object, limit: int = 60) -> str:
    """``repr(value)`` for a one-line error, shortened when it is long."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}..."


def _check_table(table: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    unknown = sorted(_escaped(key) for key in set(table) - _SCENARIO_KEYS)
    if unknown:
        allowed = ", ".join(sorted(_SCENARIO_KEYS))
        message = f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {allowed})"
        guesses = [g for g in (closest_key(key, _SCENARIO_KEYS) for key in unknown) if g]
        if guesses:
            message += f"; did you mean {' or '.join(map(repr, guesses))}?"
        raise BudgetError(message)
    if "reason" in table and not isinstance(table["reason"], str):
        raise BudgetError(f"{where}: reason must be a string, got {_shown(table['reason'])}")
    for key in ("memory_budget", "time_budget"):
        if key in table:
            parse_fraction(table[key], f"{where} {key}")
    if "memory_floor" in table:
        parse_size(table["memory_floor"], f"{where} memory_floor")
    if "instructions_floor" in table:
        parse_count(table["instructions_floor"], f"{where} instructions_floor")
    return table


def _apply(budget: Budget, table: Mapping[str, Any], where: str) -> Budget:
    changes: dict[str, Any] = {"source": where}
    if "memory_budget" in table:
        changes["memory"] = parse_fraction(table["memory_budget"], f"{where} memory_budget")
    if "time_budget" in table:
        changes["time"] = parse_fraction(table["time_budget"], f"{where} time_budget")
    if "memory_floor" in table:
        changes["memory_floor"] = parse_size(table["memory_floor"], f"{where} memory_floor")
    if "instructions_floor" in table:
        changes["instructions_floor"] = parse_count(
            table["instructions_floor"], f"{where} instructions_floor"
        )
    if "reason" in table:
        changes["reason"] = str(table["reason"]).strip()
    return replace(budget, **changes)


def from_table(
    table: Mapping[str, Any],
    source: str = "pyproject.toml",
    known_keys: Collection[str] = TABLE_KEYS,
) -> BudgetConfig:
    """Build a :class:`BudgetConfig` from the ``[tool.leakbench]`` table.

    ``known_keys``: every key the table may hold. The plugin's options share the table,
    so the command line passes the one list of both owners
    (``leakbench.plugin.options.TABLE_KEYS``); the default, this module's keys alone,
    suits a table of budgets only. A key outside it is a :class:`BudgetError` suggesting
    the closest known key; the plugin checks the values of its own keys.
    """
    where = f"{source} [tool.leakbench]"
    _check_keys(table, known_keys, where, TABLE_HINTS)
    budget_keys = {"memory_budget", "time_budget", "memory_floor", "instructions_floor"}
    default = _apply(Budget(), {k: v for k, v in table.items() if k in budget_keys}, where)
    default = replace(default, source=where if budget_keys & set(table) else "defaults")
    gated = DEFAULT_GATED_METRICS
    if "memory_metrics" in table:
        raw = table["memory_metrics"]
        if not isinstance(raw, list) or not all(isinstance(m, str) for m in raw):
            raise BudgetError(
                f"{where} memory_metrics: expected a list of metric names, got {_shown(raw)}"
            )
        unknown = sorted(_escaped(m) for m in set(raw) - set(MEMORY_METRICS))
        if unknown:
            raise BudgetError(
                f"{where} memory_metrics: unknown metric(s) {', '.join(unknown)} "
                f"(known: {', '.join(MEMORY_METRICS)})"
            )
        gated = tuple(m for m in MEMORY_METRICS if m in raw)
    scenarios_raw = table.get("scenarios", {})
    if not isinstance(scenarios_raw, Mapping):
        raise BudgetError(f"{where} scenarios: expected a table of scenario tables")
    scenarios: dict[str, Mapping[str, Any]] = {}
    for name, sub in scenarios_raw.items():
        sub_where = f"{source} [tool.leakbench.scenarios.{_quoted_key(name)}]"
        if not isinstance(sub, Mapping):
            raise BudgetError(f"{sub_where}: expected a table")
        scenarios[name] = _check_table(sub, sub_where)
    return BudgetConfig(default=default, scenarios=scenarios, gated_metrics=gated, source=source)


def _quoted_key(name: object) -> str:
    """A scenario name as a quoted key on one line: ``"a.b"``; a line break shown as ``\\n``."""
    return '"' + _escaped(name).replace('"', '\\"') + '"'


def _escaped(name: object) -> str:
    """``name`` printable on one line: a line break or other control character escaped."""
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in str(name)
    )


def load(path: Path | None = None, known_keys: Collection[str] = TABLE_KEYS) -> BudgetConfig:
    """Read budgets from ``path`` or the nearest ``pyproject.toml`` at or above the cwd
    (``leakbench._util.pyproject``, as the plugin finds its keys); defaults if none.
    ``known_keys`` as in :func:`from_table`."""
    if path is None:
        path = find_pyproject()
        if path is None:
            return BudgetConfig()
    try:
        table = read_tool_table(path)
    except PyprojectError as exc:
        if exc.problem == "unreadable":
            raise BudgetError(f"{path}: cannot read budgets ({exc.detail})") from exc
        raise BudgetError(str(exc)) from exc
    return from_table(table, str(path), known_keys)
