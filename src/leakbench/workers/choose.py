"""Which worker counts to try, how each level did over its runs, and which one to use.

Pure functions over :class:`~leakbench.workers.run.PytestRun` lists, so the rule that picks
the recommended ``-n`` is tested with synthetic records, not with timed suites.

The rule: the fastest level (by median wall time) whose every run passed and whose peak
tree RSS, in every run, stayed within the memory budget. A level that passed only
sometimes is not "fast", it is flaky (under xdist usually order dependence or a shared
resource), and a level that fits the budget only on a good run will not fit it on a bad
one, so the worst run decides.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from leakbench.workers.run import Outcome, PytestRun

__all__ = [
    "MAX_WORKERS",
    "LevelSummary",
    "Recommendation",
    "default_levels",
    "parse_levels",
    "recommend",
    "summarize",
]


MAX_WORKERS = 1024
"""The most workers one level may ask for: each is a fresh interpreter importing the suite,
so a typo such as ``--levels 100000`` would fork until the machine gives out."""


def default_levels(maximum: int, cpus: int) -> list[int]:
    """0, 1, 2, 4, ... up to ``maximum``, plus the CPU count (what ``-n auto`` picks on most
    machines) and ``maximum`` itself, so the level people actually use is always measured.

    0 is ``-n 0``, the tests in the pytest process itself: no worker start-up (a fresh
    interpreter importing the suite again) and no messaging, so a small suite is often
    fastest there (a user's 2.4 s at ``-n 0`` against 5.2 s at ``-n 1``), and only measuring
    it lets the rule recommend it."""
    levels = {0, maximum}
    level = 1
    while level < maximum:
        levels.add(level)
        level *= 2
    if cpus <= maximum:
        levels.add(cpus)
    return sorted(levels)


def parse_levels(text: str) -> list[int]:
    """``"1,2,4"`` -> ``[1, 2, 4]``; 0 means ``-n 0`` (tests in the controller, no workers).

    Raises ``ValueError`` for anything but ASCII digits and commas, and for a level above
    :data:`MAX_WORKERS`."""
    shown = repr(text) if len(text) <= 40 else f"{text[:40]!r}..."
    levels: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not (part.isascii() and part.isdigit()):
            raise ValueError(
                f"{shown}: expected worker counts separated by commas, such as 1,2,4 "
                "(0 = no workers)"
            )
        if len(part.lstrip("0")) > len(str(MAX_WORKERS)) or int(part) > MAX_WORKERS:
            raise ValueError(f"{shown}: at most {MAX_WORKERS} workers per level")
        levels.add(int(part))
    return sorted(levels)


@dataclass(frozen=True)
class LevelSummary:
    """All runs of one worker count: their outcomes, times and worst memory."""

    workers: int
    runs: tuple[PytestRun, ...]
    over_budget: bool
    skipped: str = ""
    """Why this level was not run (e.g. a lower level was stopped by the guard)."""

    @property
    def outcomes(self) -> Counter[Outcome]:
        return Counter(run.outcome for run in self.runs)

    @property
    def passed_all(self) -> bool:
        return bool(self.runs) and all(run.outcome is Outcome.PASS for run in self.runs)

    @property
    def eligible(self) -> bool:
        """Every run passed and the worst run stayed within the memory budget."""
        return self.passed_all and not self.over_budget

    @property
    def times(self) -> list[float]:
        return [run.seconds for run in self.runs if run.outcome in (Outcome.PASS, Outcome.FAIL)]

    @property
    def median(self) -> float | None:
        times = self.times
        return statistics.median(times) if times else None

    @property
    def peak_rss(self) -> int:
        return max((run.peak_rss for run in self.runs), default=0)

    @property
    def controller_rss(self) -> int:
        return max((run.controller_rss for run in self.runs), default=0)

    @property
    def swap(self) -> int:
        return max((run.swap for run in self.runs), default=0)

    @property
    def tree_swap(self) -> int:
        return max((run.tree_swap for run in self.runs), default=0)

    def to_json(self) -> dict[str, Any]:
        times = self.times
        return {
            "workers": self.workers,
            "result": result_label(self),
            "passed_all": self.passed_all,
            "over_budget": self.over_budget,
            "skipped": self.skipped or None,
            "time_median": self.median,
            "time_min": min(times) if times else None,
            "time_max": max(times) if times else None,
            "peak_rss": self.peak_rss,
            "swap": self.swap,
            "tree_swap": self.tree_swap,
            "runs": [run.to_json() for run in self.runs],
        }


def result_label(level: LevelSummary) -> str:
    """``pass``, ``fail 1/3``, ``crash 3/3, fail 0/3``...: the worst outcomes first."""
    if level.skipped:
        return "skipped"
    total = len(level.runs)
    if level.passed_all:
        return "pass"
    order = (Outcome.OVER_BUDGET, Outcome.CRASH, Outcome.TIMEOUT, Outcome.FAIL)
    counts = level.outcomes
    return ", ".join(f"{o} {counts[o]}/{total}" for o in order if counts[o])


def summarize(
    records: Iterable[PytestRun],
    levels: Sequence[int],
    budget: int,
    skipped: dict[int, str] | None = None,
) -> list[LevelSummary]:
    """One summary per level, in level order; ``skipped`` levels carry their reason."""
    by_level: dict[int, list[PytestRun]] = {level: [] for level in levels}
    for record in records:
        by_level.setdefault(record.workers, []).append(record)
    skipped = skipped or {}
    return [
        LevelSummary(
            workers=level,
            runs=tuple(runs),
            over_budget=any(r.peak_rss > budget or r.outcome is Outcome.OVER_BUDGET for r in runs),
            skipped="" if runs else skipped.get(level, ""),
        )
        for level, runs in sorted(by_level.items())
    ]


@dataclass(frozen=True)
class Recommendation:
    """The level to use, or None with the reason no level qualified."""

    workers: int | None
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"workers": self.workers, "reason": self.reason}


def recommend(levels: Sequence[LevelSummary], budget_text: str) -> Recommendation:
    """The fastest eligible level; ties (within 1%) go to fewer workers, which cost less
    memory and CPU for the same time."""
    eligible = [lv for lv in levels if lv.eligible and lv.median is not None]
    if not eligible:
        return Recommendation(None, _why_none(levels, budget_text))
    best_time = min(lv.median or 0.0 for lv in eligible)
    best = min(
        (lv for lv in eligible if (lv.median or 0.0) <= best_time * 1.01),
        key=lambda lv: lv.workers,
    )
    fastest_overall = min(
        (lv for lv in levels if lv.median is not None), key=lambda lv: lv.median or 0.0
    )
    reason = (
        f"the fastest level that passed every run within the memory budget, "
        f"median {best.median:.2f}s"
    )
    if fastest_overall.workers != best.workers and not fastest_overall.eligible:
        why = "over budget" if fastest_overall.over_budget else result_label(fastest_overall)
        reason += f"; -n {fastest_overall.workers} was faster but {why}"
    return Recommendation(best.workers, reason)


def _why_none(levels: Sequence[LevelSummary], budget_text: str) -> str:
    ran = [lv for lv in levels if lv.runs]
    if ran and all(lv.outcomes[Outcome.FAIL] == len(lv.runs) for lv in ran):
        return (
            "tests fail at every level, so no level can be recommended; fix or deselect "
            "them (-k, --deselect) and run again"
        )
    if ran and all(lv.over_budget for lv in ran):
        skipped = " (higher levels were skipped)" if any(lv.skipped for lv in levels) else ""
        return f"every level that ran exceeded the memory budget ({budget_text}){skipped}"
    return "no level passed every run within the memory budget"
