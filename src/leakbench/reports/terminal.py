"""The terminal table: one row per metric, most-regressed scenario first."""

from __future__ import annotations

import os

from rich.console import Console
from rich.table import Table
from rich.text import Text

from leakbench.gate.verdicts.records import Comparison, Verdict
from leakbench.reports import cells

STYLE = {
    Verdict.REGRESSION: "bold red",
    Verdict.INCONCLUSIVE: "yellow",
    Verdict.ACCEPTED: "magenta",
    Verdict.NOT_COMPARABLE: "dim",
    Verdict.IMPROVED: "green",
    Verdict.OK: "green",
    Verdict.INFO: "dim",
}


def table(comparison: Comparison, verbose: bool = False) -> Table:
    """The BASE / HEAD / change / budget / verdict table (informational rows if verbose)."""
    grid = Table(title="leakbench compare", title_justify="left", show_lines=False)
    grid.add_column("scenario", no_wrap=True)
    grid.add_column("metric", no_wrap=True)
    grid.add_column("BASE", justify="right", no_wrap=True)
    grid.add_column("HEAD", justify="right", no_wrap=True)
    grid.add_column("change", justify="right", no_wrap=True)
    grid.add_column("95% CI", justify="right", no_wrap=True)
    grid.add_column("budget", justify="right", no_wrap=True)
    grid.add_column("verdict")
    for scenario in comparison.scenarios:
        first = True
        for m in scenario.metrics:
            if not cells.shown(m, verbose):
                continue
            # Text, not str: cells are data and must never be parsed as rich markup.
            grid.add_row(
                Text(cells.one_line(scenario.name) if first else ""),
                Text(cells.LABEL.get(m.metric, m.metric)),
                Text(cells.value(m, "base")),
                Text(cells.value(m, "head")),
                Text(cells.change(m)),
                Text(cells.interval(m)),
                Text(cells.budget(m)),
                Text(cells.verdict(m), style=STYLE[m.verdict]),
                end_section=False,
            )
            first = False
        if not first:
            grid.rows[-1].end_section = True
    return grid


def console() -> Console:
    """A console for stdout, 160 columns wide when not a terminal (CI logs, pipes).

    rich falls back to 80 columns off a terminal, which wraps every cell of this
    table; an explicit ``COLUMNS`` still wins.
    """
    out = Console()
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out.width = 160
    return out


def render(comparison: Comparison, console: Console, verbose: bool = False) -> None:
    """Print the header, the table, new/removed scenarios, notes and the summary line."""
    base = cells.side(comparison.base_label, comparison.base_environment)
    head = cells.side(comparison.head_label, comparison.head_environment)
    console.print(Text(f"BASE {cells.one_line(base)}\nHEAD {cells.one_line(head)}"))
    if comparison.scenarios:
        console.print(table(comparison, verbose))
    else:
        console.print(Text("no scenario present in both files"))
    if comparison.new:
        new = cells.one_line(", ".join(comparison.new))
        console.print(Text(f"new scenarios (no baseline yet): {new}"))
    if comparison.removed:
        removed = cells.one_line(", ".join(comparison.removed))
        console.print(Text(f"removed scenarios (in BASE only): {removed}"))
    for note in comparison.notes:
        console.print(Text(f"note: {cells.one_line(note)}", style="yellow"))
    if comparison.scenarios:
        console.print(Text(cells.LEGEND, style="dim"))
    style = "bold red" if comparison.exit_code else "bold green"
    console.print(Text(cells.one_line(cells.summary(comparison)), style=style))
