"""Options shared by several subcommands, declared once so their help cannot drift."""

from __future__ import annotations

import click

format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["terminal", "markdown", "json"]),
    default="terminal",
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
