"""Small pieces of the HTML report: the per-iteration size text and the time cell.

Kept apart from ``leakbench.reports.html.page`` so the page module stays about layout.
Both only format numbers computed before rendering (``leakbench.cli.report``).
"""

from __future__ import annotations

from leakbench._util.sizes import format_size
from leakbench.gate.verdicts.records import ScenarioComparison
from leakbench.reports import cells

__all__ = ["MedianInterval", "per_iteration", "time_text"]

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
            sub = f"{cells.percent(metric.change)} vs base, 95% CI {cells.interval(metric)}"
        return cells.seconds(metric.head_seconds), sub
    if head is None:
        return "—", ""
    median, low, high = head
    return cells.seconds(median), f"95% CI [{cells.seconds(low)}, {cells.seconds(high)}]"
