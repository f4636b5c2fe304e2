"""``leakbench compare``: placeholder until the benchmark-gate issue lands."""

from __future__ import annotations

import click


@click.command(name="compare")
def command() -> None:
    """Not implemented yet."""
    raise click.UsageError("leakbench compare is not implemented yet")
