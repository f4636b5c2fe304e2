"""Options shared by several subcommands, declared once so their help cannot drift.

:data:`FORMATS` is the one output-format table: ``--format``'s choices are its keys and
:func:`render` looks the renderer up in it, so a new format is one entry here and every
command that reports a comparison (``compare``, ``compare-branches``) offers it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from leakbench.gate.verdicts.records import Comparison
from leakbench.reports import json_report, markdown, terminal

Renderer = Callable[[Comparison, bool], None]
"""``renderer(comparison, verbose)``: write the report to stdout."""


def _terminal(comparison: Comparison, verbose: bool) -> None:
    terminal.render(comparison, terminal.console(), verbose)


def _markdown(comparison: Comparison, verbose: bool) -> None:
    click.echo(markdown.render(comparison, verbose), nl=False)


def _json(comparison: Comparison, verbose: bool) -> None:
    click.echo(json_report.render(comparison), nl=False)  # JSON always has every metric


FORMATS: dict[str, Renderer] = {"terminal": _terminal, "markdown": _markdown, "json": _json}
"""``--format`` name -> renderer; the first is the default."""


def render(comparison: Comparison, fmt: str, verbose: bool) -> None:
    """Write ``comparison`` to stdout in ``fmt`` (a :data:`FORMATS` key)."""
    FORMATS[fmt](comparison, verbose)


format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(list(FORMATS)),
    default=next(iter(FORMATS)),
    show_default=True,
    help="terminal table, Markdown for a PR comment / $GITHUB_STEP_SUMMARY, or JSON.",
)

scenario_option = click.option(
    "-s",
    "--scenario",
    "scenarios",
    multiple=True,
    metavar="NAME",
    help="Only this scenario or leak class (repeatable).",
)

config_option = click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="pyproject.toml holding [tool.leakbench] budgets (default: the nearest one).",
)

verbose_option = click.option(
    "-v", "--verbose", is_flag=True, help="Also show informational metrics."
)
