"""The ``leakbench`` command line: one group, one module per subcommand in ``leakbench.cli``
(``bench``, ``compare``, ``baseline``, ``workers``, ``report``, ``compare_branches``), so a new
subcommand is a new module plus one ``add_command`` line here."""

from __future__ import annotations

import click

from leakbench import __version__
from leakbench.cli import baseline, bench, compare, compare_branches, report, workers


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="leakbench")
def cli() -> None:
    """Find leaks in pytest suites and gate memory/time regressions of scenarios."""


cli.add_command(bench.command)
cli.add_command(compare.command)
cli.add_command(baseline.command)
cli.add_command(workers.command)
cli.add_command(report.command)
cli.add_command(compare_branches.command)


def main() -> None:
    """Console-script entry point."""
    cli()
