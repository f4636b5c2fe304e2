"""How much a scenario may regress before ``leakbench compare`` fails.

Budgets live in ``[tool.leakbench]`` of ``pyproject.toml`` so that they are
reviewed with the code they guard::

    [tool.leakbench]
    memory_budget = 0.20        # +20% per gated memory metric
    time_budget = 0.10          # +10% on the reference-normalised time ratio
    memory_floor = "64KiB"      # memory differences below this never fail

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
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from leakbench._util import sizes
from leakbench._util.pyproject import PyprojectError, find_pyproject, read_tool_table

DEFAULT_MEMORY_BUDGET = 0.20
DEFAULT_TIME_BUDGET = 0.10
DEFAULT_MEMORY_FLOOR = 64 * 1024

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
_GLOBAL_KEYS = {"memory_budget", "time_budget", "memory_floor", "memory_metrics", "scenarios"}
_SCENARIO_KEYS = {"memory_budget", "time_budget", "memory_floor", "reason"}


class BudgetError(ValueError):
    """A budget setting that cannot be used; the message names its source."""


@dataclass(frozen=True)
class Budget:
    """The effective limits for one scenario."""

    memory: float = DEFAULT_MEMORY_BUDGET
    """Allowed relative growth of each gated memory metric (0.2 = +20%)."""
    time: float = DEFAULT_TIME_BUDGET
    """Allowed relative growth of the scenario/reference time ratio."""
    memory_floor: int = DEFAULT_MEMORY_FLOOR
    """Absolute bytes below which a memory difference never fails."""
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
            where = f'{self.source} [tool.leakbench.scenarios."{name}"]'
            budget = _apply(budget, table, where)
        if marker:
            budget = _apply(budget, _check_table(marker, f"leakbench marker of {name}"), "marker")
        return budget


def parse_size(value: object, where: str) -> int:
    """Bytes from ``65536``, ``"64KiB"``, ``"1.5 MiB"`` or ``"100kB"``."""
    if isinstance(value, bool):
        raise BudgetError(f"{where}: expected a size such as 65536 or '64KiB', got {value!r}")
    if isinstance(value, int | float):
        if value < 0 or not math.isfinite(value):
            raise BudgetError(f"{where}: a size must be a finite number >= 0, got {value!r}")
        return int(value)
    if isinstance(value, str) and _SIZE.match(value):
        with contextlib.suppress(ValueError):  # too large to be finite
            return sizes.parse_size(value)
    raise BudgetError(f"{where}: expected a size such as 65536 or '64KiB', got {value!r}")


def parse_fraction(value: object, where: str) -> float:
    """A relative budget from ``0.2`` or ``"20%"``; negative budgets make no sense."""
    result: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        result = float(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            result = float(text[:-1]) / 100 if text.endswith("%") else float(text)
        except ValueError:
            result = None
    if result is None or not math.isfinite(result) or result < 0:
        raise BudgetError(f"{where}: expected a fraction >= 0 such as 0.2 or '20%', got {value!r}")
    return result


def _check_table(table: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    unknown = sorted(set(table) - _SCENARIO_KEYS)
    if unknown:
        allowed = ", ".join(sorted(_SCENARIO_KEYS))
        raise BudgetError(f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {allowed})")
    if "reason" in table and not isinstance(table["reason"], str):
        raise BudgetError(f"{where}: reason must be a string, got {table['reason']!r}")
    for key in ("memory_budget", "time_budget"):
        if key in table:
            parse_fraction(table[key], f"{where} {key}")
    if "memory_floor" in table:
        parse_size(table["memory_floor"], f"{where} memory_floor")
    return table


def _apply(budget: Budget, table: Mapping[str, Any], where: str) -> Budget:
    changes: dict[str, Any] = {"source": where}
    if "memory_budget" in table:
        changes["memory"] = parse_fraction(table["memory_budget"], f"{where} memory_budget")
    if "time_budget" in table:
        changes["time"] = parse_fraction(table["time_budget"], f"{where} time_budget")
    if "memory_floor" in table:
        changes["memory_floor"] = parse_size(table["memory_floor"], f"{where} memory_floor")
    if "reason" in table:
        changes["reason"] = str(table["reason"]).strip()
    return replace(budget, **changes)


def from_table(table: Mapping[str, Any], source: str = "pyproject.toml") -> BudgetConfig:
    """Build a :class:`BudgetConfig` from the ``[tool.leakbench]`` table."""
    where = f"{source} [tool.leakbench]"
    budget_keys = {"memory_budget", "time_budget", "memory_floor"}
    # Other leakbench settings (plugin options) may share the table; only budget
    # keys and the scenarios table are ours, so unknown keys are not errors here.
    default = _apply(Budget(), {k: v for k, v in table.items() if k in budget_keys}, where)
    default = replace(default, source=where if budget_keys & set(table) else "defaults")
    gated = DEFAULT_GATED_METRICS
    if "memory_metrics" in table:
        raw = table["memory_metrics"]
        if not isinstance(raw, list) or not all(isinstance(m, str) for m in raw):
            raise BudgetError(f"{where} memory_metrics: expected a list of metric names")
        unknown = sorted(set(raw) - set(MEMORY_METRICS))
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
        sub_where = f'{source} [tool.leakbench.scenarios."{name}"]'
        if not isinstance(sub, Mapping):
            raise BudgetError(f"{sub_where}: expected a table")
        scenarios[name] = _check_table(sub, sub_where)
    return BudgetConfig(default=default, scenarios=scenarios, gated_metrics=gated, source=source)


def load(path: Path | None = None) -> BudgetConfig:
    """Read budgets from ``path`` or the nearest ``pyproject.toml`` at or above the cwd
    (``leakbench._util.pyproject``, as the plugin finds its keys); defaults if none."""
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
    return from_table(table, str(path))
