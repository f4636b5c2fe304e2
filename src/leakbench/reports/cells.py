"""Cell texts shared by the terminal, Markdown and HTML reporters, so they cannot drift apart."""

from __future__ import annotations

import contextlib
import math
from pathlib import Path

from leakbench._util.sizes import format_size
from leakbench.gate.results import Environment
from leakbench.gate.verdicts.records import Comparison, MetricComparison, Verdict

SYMBOL = {
    Verdict.REGRESSION: "❌",
    Verdict.INCONCLUSIVE: "⚠️",
    Verdict.ACCEPTED: "☑️",
    Verdict.NOT_COMPARABLE: "⚪",
    Verdict.IMPROVED: "🟢",
    Verdict.OK: "✅",
    Verdict.INFO: "💬",
}
LABEL = {
    "retained_per_iteration": "retained/iter",
    "retained_bytes": "retained",
    "peak_bytes": "peak",
    "total_allocated_bytes": "allocated",
    "allocations": "allocations",
    "instructions": "instructions/iter",
    "time": "wall time/iter",
}
LEGEND = (
    "instructions/iter: CPU instructions per iteration counted under Valgrind (all threads of "
    "the process; what time gates on). wall time/iter: median seconds per iteration; its "
    "change is relative to a reference workload timed alongside, with a 95% interval."
)
"""The one line under every table that says what the two time rows measure."""


def one_line(text: str) -> str:
    """``text`` safe to print on one line anywhere: every character that is not printable
    (a line break, a control character, a lone surrogate that no encoder accepts) spelled as
    its Python escape (``\\n``, ``\\ud800``). Names are refused at load when they are not
    printable text; this keeps every renderer from crashing on whatever else reaches it."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def seconds(value: float) -> str:
    """``0.00123`` -> ``1.23 ms``."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value / 1e-9:.3g} ns"


def count(value: float) -> str:
    """``1352231`` -> ``1.35 M``; ``13645`` -> ``13.6 k``; small counts as they are."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value:,.0f}"


def value(m: MetricComparison, side: str) -> str:
    """BASE or HEAD cell: bytes, a count, instructions, or wall time as seconds per iteration."""
    number = m.base if side == "base" else m.head
    if m.kind == "time":
        secs = m.base_seconds if side == "base" else m.head_seconds
        return seconds(secs) if secs is not None else "—"
    if number is None:
        return "—"
    if m.kind == "instructions":
        return count(number)
    return amount(m, number)


def amount(m: MetricComparison, number: float) -> str:
    """Bytes in binary units (fractional bytes per iteration kept), or a plain count."""
    if m.unit == "count":
        return f"{number:,.0f}"
    if m.metric == "retained_per_iteration" and abs(number) < 100 and number != int(number):
        return f"{number:.1f} B"
    return format_size(number)


def percent(x: float) -> str:
    """``0.253`` -> ``+25.3%``."""
    if math.isinf(x):
        return "+∞" if x > 0 else "-∞"
    return f"{x * 100:+.1f}%"


def change(m: MetricComparison) -> str:
    """Relative change and what it means in words: ``+12.0% slower``, ``-3.1% fewer``."""
    if m.change is None:
        if m.base is not None and m.head is not None and m.head != m.base:
            return f"{'+' if m.head > m.base else '-'}{amount(m, abs(m.head - m.base))}"
        return "—"
    return f"{percent(m.change)} {direction(m)}"


def direction(m: MetricComparison) -> str:
    """The change in one word: ``slower``/``faster`` (wall time), ``more``/``fewer``
    (instructions, counts), ``more``/``less`` (bytes), ``same`` below 0.05%."""
    c = m.change or 0.0
    if abs(c) < 0.0005:
        return "same"
    if m.kind == "time":
        return "slower" if c > 0 else "faster"
    if m.kind == "instructions" or m.unit == "count":
        return "more" if c > 0 else "fewer"
    return "more" if c > 0 else "less"


def interval(m: MetricComparison) -> str:
    """Time only: the 95% bootstrap interval of the change, ``[+3.0%, +9.1%]``."""
    if m.interval is None:
        return ""
    low, high = m.interval
    return f"[{percent(low)}, {percent(high)}]"


def budget(m: MetricComparison) -> str:
    """``+20%``, or ``—`` for an informational metric."""
    return "—" if m.budget is None else f"+{m.budget * 100:g}%"


def verdict(m: MetricComparison) -> str:
    """Verdict word plus its note (the accepted reason, why not comparable, ...)."""
    if m.verdict is Verdict.ACCEPTED and m.note.startswith("accepted:"):
        return m.note
    return f"{m.verdict}: {m.note}" if m.note else str(m.verdict)


def relative(path: str | Path) -> str:
    """``path`` relative to the cwd when it lies inside it (shorter, and stable in CI logs)."""
    with contextlib.suppress(ValueError, OSError):
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    return str(path)


def commit_text(env: Environment, unknown: str = "unknown commit") -> str:
    """``abcdef1234+dirty``: the commit a reader looks for, short; ``unknown`` without one."""
    if not env.git_commit:
        return unknown
    return env.git_commit[:10] + ("+dirty" if env.git_dirty else "")


def side(label: str, env: Environment) -> str:
    """``baselines/x.json (abc1234, Python 3.11.9)``, the path relative to the cwd if inside."""
    return f"{relative(label)} ({commit_text(env, '?')}, Python {env.python_version})"


def summary(c: Comparison) -> str:
    """One line: counts per verdict, scenarios, new and removed."""
    words = {
        Verdict.REGRESSION: ("regression", "regressions"),
        Verdict.INCONCLUSIVE: ("inconclusive (warning)", "inconclusive (warnings)"),
        Verdict.ACCEPTED: ("accepted", "accepted"),
        Verdict.IMPROVED: ("improvement", "improvements"),
    }
    parts = [
        f"{n} {one if n == 1 else many}" for v, (one, many) in words.items() if (n := c.count(v))
    ]
    text = ", ".join(parts) if parts else "all within budget"
    text += f" in {len(c.scenarios)} scenario{'s' if len(c.scenarios) != 1 else ''}"
    if c.new:
        text += f"; new: {', '.join(c.new)}"
    if c.removed:
        text += f"; removed: {', '.join(c.removed)}"
    return text


def shown(m: MetricComparison, verbose: bool) -> bool:
    """Informational memory metrics only in verbose mode; everything that gates, and the
    wall time (informational against a stored baseline), always."""
    return verbose or m.verdict is not Verdict.INFO or m.kind == "time"
