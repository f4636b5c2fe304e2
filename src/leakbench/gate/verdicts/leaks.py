"""Whether one results document's scenarios leak: the judgement the HTML report shows.

A scenario *leaks* when its retained bytes grow by at least its budget's ``memory_floor``
over the tracked run (``retained_per_iteration x iterations``). It is the floor
``leakbench compare`` uses for a memory verdict, so "leaks" in the report and a memory
verdict agree on what is noise. The rule lives here, with the other verdict rules, so that
the report only reads its outcome (measure, then render) and no renderer can drift from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from leakbench.gate.results import MemoryResult, Results, ScenarioResult
from leakbench.gate.verdicts.budgets import BudgetConfig

__all__ = ["LeakJudgement", "growth", "judge", "judge_all"]


@dataclass(frozen=True)
class LeakJudgement:
    """One scenario's leak judgement, with the numbers a reader needs to check it."""

    leaking: bool
    """Retained growth over the run at or above :attr:`floor` (False without a memory pass)."""
    growth: float | None
    """Bytes retained over the tracked run; None when the results have no memory pass."""
    floor: int
    """The scenario's effective ``memory_floor`` (bytes over the run)."""


def growth(m: MemoryResult) -> float:
    """Bytes the scenario retained over its tracked run, from the robust slope (not the last
    sample minus the first, which one late collection can swing)."""
    return m.retained_per_iteration * m.iterations


def judge(name: str, s: ScenarioResult, config: BudgetConfig) -> LeakJudgement:
    """The judgement of scenario ``name`` under ``config`` (its per-scenario floor applies)."""
    floor = config.for_scenario(name, s.budget).memory_floor
    if s.memory is None:
        return LeakJudgement(leaking=False, growth=None, floor=floor)
    grown = growth(s.memory)
    return LeakJudgement(leaking=grown >= floor, growth=grown, floor=floor)


def judge_all(results: Results, config: BudgetConfig) -> dict[str, LeakJudgement]:
    """``scenario -> judgement`` for every scenario of ``results``."""
    return {name: judge(name, s, config) for name, s in results.scenarios.items()}
