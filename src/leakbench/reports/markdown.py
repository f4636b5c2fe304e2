"""``--format markdown``: a pull-request comment or ``$GITHUB_STEP_SUMMARY`` section.

Short on purpose: the headline and every metric that is not plainly "ok" come
first (regressions on top); the full table and the top leaking call sites are
collapsed in ``<details>`` so a reviewer sees the news without scrolling.
"""

from __future__ import annotations

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


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _rows(rows: list[tuple[str, MetricComparison]]) -> list[str]:
    lines = [
        "| scenario | metric | BASE | HEAD | change | budget | verdict |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for name, m in rows:
        row = (
            f"`{name}`",
            cells.LABEL.get(m.metric, m.metric),
            cells.value(m, "base"),
            cells.value(m, "head"),
            " ".join(filter(None, (cells.change(m), cells.interval(m)))),
            cells.budget(m),
            f"{cells.SYMBOL[m.verdict]} {cells.verdict(m)}",
        )
        lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
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
        lines += [f"**`{s.name}`**", "", "| bytes | count | location |", "|---:|---:|---|"]
        for site in s.top_sites[:SITES_PER_SCENARIO]:
            where = _cell(str(site.get("location", "?")))
            lines.append(
                f"| {format_size(site.get('bytes', 0))} | {site.get('count', 0)} | `{where}` |"
            )
        lines.append("")
    return lines


def render(comparison: Comparison, verbose: bool = False) -> str:
    """The Markdown report, ending in a newline."""
    c = comparison
    icon = "❌" if c.exit_code else "⚠️" if c.count(Verdict.INCONCLUSIVE) else "✅"
    lines = [
        f"### {icon} leakbench: {cells.summary(c)}",
        "",
        f"BASE {_cell(cells.side(c.base_label, c.base_environment))}  ",
        f"HEAD {_cell(cells.side(c.head_label, c.head_environment))}",
        "",
    ]
    every = [(s.name, m) for s in c.scenarios for m in s.metrics if cells.shown(m, verbose)]
    news = [(name, m) for name, m in every if m.verdict not in QUIET]
    if news:
        lines += [*_rows(news), ""]
    elif c.scenarios:
        lines += [f"All {len(c.scenarios)} scenarios are within budget.", ""]
    if c.new:
        lines += [f"**New scenarios** (no baseline yet): {', '.join(f'`{n}`' for n in c.new)}", ""]
    if c.removed:
        lines += [f"**Removed scenarios**: {', '.join(f'`{n}`' for n in c.removed)}", ""]
    lines += [f"> {_cell(note)}" for note in c.notes]
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
        + _cell(cells.LEGEND)
        + "</sub>"
    )
    return "\n".join(lines) + "\n"
