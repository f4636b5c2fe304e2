"""Small pieces of the HTML report: commit and size texts, the time cell.

Kept apart from ``html`` so the page module stays about layout.
"""

from __future__ import annotations

import random
import statistics

from leakbench._util.sizes import format_size
from leakbench.gate.results import Environment, ScenarioResult
from leakbench.gate.verdicts.bootstrap import SEED, bootstrap_medians
from leakbench.gate.verdicts.records import ScenarioComparison
from leakbench.reports import cells

__all__ = ["commit_text", "per_iteration", "time_text"]


def commit_text(env: Environment) -> str:
    """``abcdef1234+dirty``: the commit a reader looks for, short."""
    if not env.git_commit:
        return "unknown commit"
    return env.git_commit[:10] + ("+dirty" if env.git_dirty else "")


def per_iteration(value: float) -> str:
    """Bytes per iteration; fractional bytes kept below 100 B (a clean scenario's ~12.7 B)."""
    if abs(value) < 100:
        return f"{value:.1f} B"
    return format_size(value)


def time_text(s: ScenarioResult, cmp: ScenarioComparison | None) -> tuple[str, str]:
    """Median seconds per iteration with a 95% interval: of the change vs BASE when compared
    (what the gate decides on), else of HEAD's median (bootstrap over its rounds)."""
    metric = next((m for m in cmp.metrics if m.kind == "time"), None) if cmp else None
    if metric is not None and metric.head_seconds is not None:
        sub = ""
        if metric.change is not None:
            sub = f"{cells.percent(metric.change)} vs base, 95% CI {cells.interval(metric)}"
        return cells.seconds(metric.head_seconds), sub
    if s.time is None or not s.time.rounds:
        return "—", ""
    rounds = s.time.rounds
    medians = sorted(bootstrap_medians(rounds, 400, random.Random(SEED)))
    low, high = medians[9], medians[-10]
    median = statistics.median(rounds)
    return cells.seconds(median), f"95% CI [{cells.seconds(low)}, {cells.seconds(high)}]"
