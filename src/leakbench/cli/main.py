"""The ``leakbench`` command line: one group, one module per subcommand in ``leakbench.cli``
(``bench``, ``compare``, ``baseline``, ``workers``, ``report``, ``compare_branches``,
``merge``), so a new subcommand is a new module plus one ``add_command`` line here.

The group is also the one place every command ends through on an interrupt or a usage
error (:class:`Leakbench`): Ctrl-C, SIGTERM (turned into an interrupt for the whole command)
and click's own ``Abort`` exit 130 with one ``leakbench: interrupted`` line, never click's
"Aborted!" and exit 1, which CI reads as a regression; a bad option value or unknown command
is one ``leakbench: error:`` line and exit 2, never click's usage block.
"""

from __future__ import annotations

from typing import Any

import click

from leakbench import __version__
from leakbench._util.signals import (
    INTERRUPT_EXIT,
    ignore_further_interrupts,
    sigterm_as_interrupt,
)
from leakbench.cli import baseline, bench, compare, compare_branches, merge, report, workers
from leakbench.cli.errors import BadInputError
from leakbench.cli.params import one_line


class Leakbench(click.Group):
    """The group: routes every interrupt to exit 130 and every usage error to one line."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            raise BadInputError(one_line(exc)) from exc

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with sigterm_as_interrupt():
                return super().invoke(ctx)
        except click.UsageError as exc:
            raise BadInputError(one_line(exc)) from exc
        except (KeyboardInterrupt, click.Abort) as exc:
            interrupted(exc)


def interrupted(exc: BaseException) -> None:
    """Print the one interrupt line (with the command's note, if it gave one); exit 130."""
    ignore_further_interrupts()  # a second Ctrl-C from here on changes nothing
    note = getattr(exc, "note", "")
    click.echo(f"leakbench: interrupted{'; ' + note if note else ''}", err=True)
    raise SystemExit(INTERRUPT_EXIT) from None


@click.group(cls=Leakbench, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="leakbench")
def cli() -> None:
    """Find leaks in pytest suites and gate memory/time regressions of scenarios."""


cli.add_command(bench.command)
cli.add_command(compare.command)
cli.add_command(baseline.command)
cli.add_command(workers.command)
cli.add_command(report.command)
cli.add_command(compare_branches.command)
cli.add_command(merge.command)


def main() -> None:
    """Console-script entry point."""
    cli()
