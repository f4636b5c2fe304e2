"""Small pieces of the HTML report: the per-iteration size text, the instructions and the
wall-time cells.

Kept apart from ``leakbench.reports.html.page`` so the page module stays about layout.
Both only format numbers computed before rendering (``leakbench.cli.report``).
"""

from __future__ import annotations

from leakbench._util.sizes import format_size
from leakbench.gate.results import InstructionsResult
from leakbench.gate.verdicts.records import ScenarioComparison
from leakbench.reports import cells

__all__ = ["MedianInterval", "instructions_text", "per_iteration", "time_text"]

MedianInterval = tuple[float, float, float]
"""``(median, low, high)`` seconds per iteration, as ``bootstrap.median_interval`` returns."""


def per_iteration(value: float) -> str:
    """Bytes per iteration; fractional bytes kept below 100 B (a clean scenario's ~12.7 B)."""
    if abs(value) < 100:
        return f"{value:.1f} B"
    return format_size(value)


def time_text(cmp: ScenarioComparison | None, head: MedianInterval | None) -> tuple[str, str]:
    """Median seconds per iteration with a 95% interval: of the change vs BASE when compared
    (what the gate decides on), else of HEAD's median (``head``, None when not timed)."""
    metric = next((m for m in cmp.metrics if m.kind == "time"), None) if cmp else None
    if metric is not None and metric.head_seconds is not None:
        sub = ""
        if metric.change is not None:
            sub = f"{cells.change(metric)} vs base"
            if metric.interval is not None:
                sub += f", 95% CI {cells.interval(metric)}"
        return cells.seconds(metric.head_seconds), sub
    if head is None:
        return "—", ""
    median, low, high = head
    return cells.seconds(median), f"95% CI [{cells.seconds(low)}, {cells.seconds(high)}]"


def instructions_text(
    cmp: ScenarioComparison | None, counted: InstructionsResult | None
) -> tuple[str, str]:
    """HEAD's instructions per iteration and, when compared, the change in words (else how
    many iterations were counted, or why there is no figure)."""
    metric = next((m for m in cmp.metrics if m.kind == "instructions"), None) if cmp else None
    if counted is None or counted.per_iteration is None:
        why = counted.reason if counted is not None else "not counted"
        return "—", why
    value = cells.count(counted.per_iteration)
    if metric is not None and metric.change is not None and metric.base is not None:
        return value, f"{cells.change(metric)} vs base ({cells.count(metric.base)})"
    return value, f"{counted.iterations} iterations under {counted.tool}"
