"""The comparison records ``leakbench compare`` produces and every reporter reads.

Kept apart from the logic in ``leakbench.gate.verdicts.rules`` so that reporters (terminal,
Markdown, JSON, later HTML) depend on plain frozen data and never on how the
verdicts were reached, and so that a stored ``--format json`` report can be
rendered again without re-comparing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from leakbench.gate.results import Environment
from leakbench.gate.verdicts.budgets import Budget

__all__ = [
    "SEVERITY",
    "Comparison",
    "MetricComparison",
    "ScenarioComparison",
    "Verdict",
    "metric_order",
]


class Verdict(StrEnum):
    """One metric's outcome, most severe first in :data:`SEVERITY`."""

    REGRESSION = "regression"
    INCONCLUSIVE = "inconclusive"
    ACCEPTED = "accepted"
    NOT_COMPARABLE = "not comparable"
    IMPROVED = "improved"
    OK = "ok"
    INFO = "info"


SEVERITY = {v: i for i, v in enumerate(reversed(list(Verdict)))}
"""Higher is worse; used to sort most-regressed first."""


@dataclass(frozen=True)
class MetricComparison:
    """BASE vs HEAD for one metric of one scenario."""

    metric: str
    """A memory metric name, or ``time``."""
    kind: str
    """``memory`` or ``time``."""
    unit: str
    """``bytes``, ``count`` or ``ratio`` (time: scenario/reference median ratio)."""
    base: float | None
    head: float | None
    change: float | None
    """Relative change (0.25 = +25%); None when BASE is 0 or missing."""
    budget: float | None
    """The relative budget applied; None for informational metrics."""
    verdict: Verdict
    gated: bool
    interval: tuple[float, float] | None = None
    """Time only: the bootstrap interval of the relative change."""
    base_seconds: float | None = None
    head_seconds: float | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for ``--format json``."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["verdict"] = str(self.verdict)
        out["interval"] = list(self.interval) if self.interval else None
        out["change"] = _json_float(self.change)
        return out


def metric_order(m: MetricComparison) -> tuple[int, float]:
    """Sort key of a scenario's rows: most severe first, then the largest growth if gated.

    One key for the rows ``rules.compare`` builds and for those ``abba.with_time`` re-sorts
    after swapping in the ABBA time row, so both orders agree."""
    return (-SEVERITY[m.verdict], -(m.change or 0.0) if m.gated else 0.0)


@dataclass(frozen=True)
class ScenarioComparison:
    """All metrics of one scenario present on both sides."""

    name: str
    metrics: tuple[MetricComparison, ...]
    budget: Budget
    top_sites: tuple[dict[str, Any], ...] = ()
    """HEAD's top retaining call sites (location, bytes, count), for the report."""

    @property
    def verdict(self) -> Verdict:
        """The worst verdict of its metrics."""
        return max((m.verdict for m in self.metrics), key=SEVERITY.__getitem__, default=Verdict.OK)

    def sort_key(self) -> tuple[int, float]:
        """Most severe first, then the largest relative growth among gated metrics."""
        growth = max((m.change or 0.0 for m in self.metrics if m.gated), default=0.0)
        return (-SEVERITY[self.verdict], -growth)


@dataclass(frozen=True)
class Comparison:
    """The whole BASE vs HEAD comparison, ready to render."""

    base_label: str
    head_label: str
    base_environment: Environment
    head_environment: Environment
    time_comparable: bool
    environment_differences: tuple[str, ...]
    scenarios: tuple[ScenarioComparison, ...]
    """Sorted most-regressed first."""
    new: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    def count(self, verdict: Verdict) -> int:
        """How many metrics have ``verdict``."""
        return sum(m.verdict is verdict for s in self.scenarios for m in s.metrics)

    @property
    def exit_code(self) -> int:
        """1 when any gated metric regressed, else 0 (inconclusive only warns)."""
        return 1 if self.count(Verdict.REGRESSION) else 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``leakbench-comparison`` schema version 1)."""
        return {
            "schema": "leakbench-comparison",
            "schema_version": 1,
            "base": {"path": self.base_label, **_env_summary(self.base_environment)},
            "head": {"path": self.head_label, **_env_summary(self.head_environment)},
            "time_comparable": self.time_comparable,
            "environment_differences": list(self.environment_differences),
            "summary": {v.value: self.count(v) for v in Verdict} | {"exit_code": self.exit_code},
            "scenarios": [
                {
                    "name": s.name,
                    "verdict": str(s.verdict),
                    "budget": {
                        "memory": s.budget.memory,
                        "time": s.budget.time,
                        "memory_floor": s.budget.memory_floor,
                        "reason": s.budget.reason,
                        "source": s.budget.source,
                    },
                    "metrics": [m.to_dict() for m in s.metrics],
                    "top_sites": list(s.top_sites),
                }
                for s in self.scenarios
            ],
            "new": list(self.new),
            "removed": list(self.removed),
            "notes": list(self.notes),
        }


def _json_float(value: float | None) -> float | str | None:
    if value is not None and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def _env_summary(env: Environment) -> dict[str, Any]:
    return {
        "key": env.key,
        "git_commit": env.git_commit,
        "git_dirty": env.git_dirty,
        "python_version": env.python_version,
        "cpu_model": env.cpu_model,
    }
