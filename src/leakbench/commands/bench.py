"""``leakbench bench``: placeholder until the benchmark-gate issue lands."""

from __future__ import annotations

import click


@click.command(name="bench")
def command() -> None:
    """Not implemented yet."""
    raise click.UsageError("leakbench bench is not implemented yet")
