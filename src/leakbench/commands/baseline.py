"""``leakbench baseline``: placeholder until the benchmark-gate issue lands."""

from __future__ import annotations

import click


@click.command(name="baseline")
def command() -> None:
    """Not implemented yet."""
    raise click.UsageError("leakbench baseline is not implemented yet")
