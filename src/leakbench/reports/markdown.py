"""``--format markdown``: a pull-request comment or ``$GITHUB_STEP_SUMMARY`` section.

Short on purpose: the headline and every metric that is not plainly "ok" come
first (regressions on top); the full table and the top leaking call sites are
collapsed in ``<details>`` so a reviewer sees the news without scrolling.
"""

from __future__ import annotations

import re

from leakbench._util.sizes import format_size
from leakbench.gate.verdicts.records import (
    Comparison,
    MetricComparison,
    ScenarioComparison,
    Verdict,
)
from leakbench.reports import cells

QUIET = frozenset({Verdict.OK, Verdict.INFO})
MEMORY_NEWS = frozenset({Verdict.REGRESSION, Verdict.ACCEPTED, Verdict.INCONCLUSIVE})
SITES_PER_SCENARIO = 5


def _text(text: str) -> str:
    """Plain text on one line that Markdown shows as it is: no raw HTML (``<img src=...>``
    becomes ``&lt;img ...``), no code span or table cell opened or closed by the text
    (backticks and ``|`` escaped), line breaks as spaces, other unprintables escaped."""
    flat = cells.one_line(text.replace("\r\n", " ").replace("\n", " "))
    for char, escaped in (("\\", "\\\\"), ("&", "&amp;"), ("<", "&lt;"), ("`", "\\`")):
        flat = flat.replace(char, escaped)
    return flat.replace("|", "\\|")


def _code(text: str, in_table: bool = False) -> str:
    """``text`` as one inline code span, whatever it holds: the fence is one backtick longer
    than the longest run of backticks inside (CommonMark), padded with a space when the text
    starts or ends with one; inside a table, ``|`` is escaped (GFM unescapes it there)."""
    flat = cells.one_line(text.replace("\r\n", " ").replace("\n", " "))
    longest = max((len(m) for m in _BACKTICKS.findall(flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    if in_table:
        flat = flat.replace("|", "\\|")
    return f"{fence}{pad}{flat}{pad}{fence}"


_BACKTICKS = re.compile(r"`+")


def _rows(rows: list[tuple[str, MetricComparison]]) -> list[str]:
    lines = [
        "| scenario | metric | BASE | HEAD | change | budget | verdict |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for name, m in rows:
        row = (
            cells.LABEL.get(m.metric, m.metric),
            cells.value(m, "base"),
            cells.value(m, "head"),
            " ".join(filter(None, (cells.change(m), cells.interval(m)))),
            cells.budget(m),
            f"{cells.SYMBOL[m.verdict]} {cells.verdict(m)}",
        )
        lines.append(
            "| " + " | ".join([_code(name, in_table=True), *(_text(c) for c in row)]) + " |"
        )
    return lines


def _sites(scenarios: tuple[ScenarioComparison, ...]) -> list[str]:
    """Top sites of scenarios whose memory made news first, then the rest that have sites."""

    def news(s: ScenarioComparison) -> bool:
        return any(m.kind == "memory" and m.verdict in MEMORY_NEWS for m in s.metrics)

    ordered = [s for s in scenarios if news(s)] + [s for s in scenarios if not news(s)]
    lines: list[str] = []
    for s in ordered:
        if not s.top_sites:
            continue
        lines += [f"**{_code(s.name)}**", "", "| bytes | count | location |", "|---:|---:|---|"]
        for site in s.top_sites[:SITES_PER_SCENARIO]:
            where = _code(str(site.get("location", "?")), in_table=True)
            size = _text(format_size(site.get("bytes", 0)))
            lines.append(f"| {size} | {_text(str(site.get('count', 0)))} | {where} |")
        lines.append("")
    return lines


def render(comparison: Comparison, verbose: bool = False) -> str:
    """The Markdown report, ending in a newline."""
    c = comparison
    icon = "❌" if c.exit_code else "⚠️" if c.count(Verdict.INCONCLUSIVE) else "✅"
    lines = [
        f"### {icon} leakbench: {_text(cells.summary(c))}",
        "",
        f"BASE {_text(cells.side(c.base_label, c.base_environment))}  ",
        f"HEAD {_text(cells.side(c.head_label, c.head_environment))}",
        "",
    ]
    every = [(s.name, m) for s in c.scenarios for m in s.metrics if cells.shown(m, verbose)]
    news = [(name, m) for name, m in every if m.verdict not in QUIET]
    if news:
        lines += [*_rows(news), ""]
    elif c.scenarios:
        lines += [f"All {len(c.scenarios)} scenarios are within budget.", ""]
    if c.new:
        lines += [f"**New scenarios** (no baseline yet): {', '.join(_code(n) for n in c.new)}", ""]
    if c.removed:
        lines += [f"**Removed scenarios**: {', '.join(_code(n) for n in c.removed)}", ""]
    lines += [f"> {_text(note)}" for note in c.notes]
    if c.notes:
        lines.append("")
    if every:
        lines += [f"<details><summary>All metrics ({len(every)})</summary>", ""]
        lines += [*_rows(every), "", "</details>", ""]
    sites = _sites(c.scenarios)
    if sites:
        lines += ["<details><summary>Top leaking call sites (HEAD)</summary>", "", *sites]
        lines += ["</details>", ""]
    lines.append(
        "<sub>Memory gates on growth beyond the budget and the absolute floor; time gates on "
        "instructions per iteration beyond the budget and the instructions floor. "
        + _text(cells.LEGEND)
        + "</sub>"
    )
    text = "\n".join(lines) + "\n"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")  # never unwritable
