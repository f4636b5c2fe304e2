"""Hand-written SVG line charts of retained memory over iterations.

Why not matplotlib or plotly: neither is in ``requirements.lock``; matplotlib SVGs embed
text as glyph paths, tens of KB per chart (25 scenarios: a page of megabytes), and plotly's
offline bundle is ~3.5 MB of JavaScript. A polyline per series with a few ticks is all a "does this
line climb?" chart needs, renders in every browser from ``file://``, and keeps the report
under a hundred kilobytes for the demo suites with no dependency to lock.

Every chart is ``<svg class="chart" data-scenario=NAME data-points=N>`` with one
``<polyline class="line ..." data-points=K>`` per series, so a test (or a reader of the DOM)
can check that a chart with data exists for each scenario.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from leakbench._util.sizes import format_size

__all__ = ["WIDTH", "Line", "chart", "nice_ticks"]

WIDTH, HEIGHT = 440, 190
LEFT, RIGHT, TOP, BOTTOM = 66, 12, 10, 30


@dataclass(frozen=True)
class Line:
    """One series: ``(iteration, retained bytes)`` points and how to draw them."""

    label: str
    points: Sequence[tuple[int, int]]
    css: str
    """CSS classes: ``leaky``/``clean`` colour the line, ``base`` dashes it."""


def nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    """About ``count`` round tick values (1, 2, 5 x 10^k steps) covering ``[low, high]``."""
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(ticks[-1] + step)
    return ticks


def _byte_ticks(low: float, high: float) -> tuple[list[float], float, str]:
    """Ticks in one binary unit chosen from the range, so labels read 0, 2, 4 MiB."""
    top = max(abs(low), abs(high), 1.0)
    scale, unit = next(
        (
            (1024.0**i, u)
            for i, u in reversed(list(enumerate(("B", "KiB", "MiB", "GiB"))))
            if top >= 1024.0**i
        ),
        (1.0, "B"),
    )
    ticks = nice_ticks(low / scale, high / scale)
    return [t * scale for t in ticks], scale, unit


def chart(scenario: str, lines: Sequence[Line], y_range: tuple[float, float] | None = None) -> str:
    """An SVG chart of ``lines``; ``y_range`` shares one y scale between side-by-side charts
    (a clean variant drawn flat under its leaky twin's scale is the point of the picture)."""
    drawn = [line for line in lines if line.points]
    xs = [p[0] for line in drawn for p in line.points] or [1]
    ys = [p[1] for line in drawn for p in line.points] or [0]
    low, high = y_range if y_range else (min(0, *ys), max(ys))
    y_ticks, scale, unit = _byte_ticks(min(low, 0), max(high, 1))
    x_ticks = [t for t in nice_ticks(0, max(xs), 5) if t == int(t)]
    x0, x1 = 0.0, float(x_ticks[-1])
    y0, y1 = y_ticks[0], y_ticks[-1]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + (x - x0) / (x1 - x0 or 1) * plot_w

    def py(y: float) -> float:
        return TOP + plot_h - (y - y0) / (y1 - y0 or 1) * plot_h

    parts = [
        f'<svg class="chart" data-scenario="{escape(scenario)}" '
        f'data-points="{sum(len(line.points) for line in drawn)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="retained memory of {escape(scenario)} per iteration">'
    ]
    for t in y_ticks:
        y = py(t)
        label = f"{t / scale:g} {unit}" if t else "0"
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{label}</text>'
        )
    for t in x_ticks:
        x = px(t)
        parts.append(
            f'<text class="tick" x="{x:.1f}" y="{HEIGHT - BOTTOM + 15}" '
            f'text-anchor="middle">{int(t)}</text>'
        )
    parts.append(
        f'<text class="axis" x="{WIDTH - RIGHT}" y="{HEIGHT - 2}" text-anchor="end">'
        "iterations</text>"
    )
    for line in drawn:
        coords = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in line.points)
        last_x, last_y = line.points[-1]
        tip = f"{line.label}: {format_size(last_y)} retained after {last_x} iterations"
        parts.append(
            f'<polyline class="line {escape(line.css)}" data-points="{len(line.points)}" '
            f'points="{coords}"><title>{escape(tip)}</title></polyline>'
            f'<circle class="dot {escape(line.css)}" cx="{px(last_x):.1f}" '
            f'cy="{py(last_y):.1f}" r="3"><title>{escape(tip)}</title></circle>'
        )
    parts.append("</svg>")
    return "".join(parts)
