"""``leakbench baseline save|show``: store and list per-environment baselines.

A baseline is a results file copied to ``baselines/<environment key>.json`` and
committed. Saving goes through ``leakbench.gate.store.FileStore.save_baseline`` (temp file,
fsync, ``os.replace``), so a Ctrl-C or kill mid-save leaves the previous baseline whole.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table
from rich.text import Text

from leakbench.cli.errors import BadInputError, load_head
from leakbench.gate.environment import environment_key
from leakbench.gate.store import BASELINES_DIR, FileStore
from leakbench.reports import terminal
from leakbench.reports.cells import relative


@click.group(name="baseline")
def command() -> None:
    """Save the latest results as this environment's baseline, or list baselines."""


@command.command(name="save")
@click.argument("results", required=False, type=click.Path(dir_okay=False, path_type=Path))
def save(results: Path | None) -> None:
    """Store RESULTS (default: the latest run) as the baseline for its environment key."""
    loaded, source = load_head(results)
    try:
        target = FileStore(Path.cwd()).save_baseline(loaded)
    except (OSError, ValueError) as exc:
        raise BadInputError(f"{source}: cannot save the baseline ({exc})") from exc
    env = loaded.environment
    commit = env.git_commit[:12] or "no commit"
    click.echo(
        f"saved {relative(target)} ({len(loaded.scenarios)} scenarios, {commit}, "
        f"from {relative(source)})"
    )
    if env.git_dirty:
        click.echo("warning: these results come from a checkout with uncommitted changes", err=True)


@command.command(name="show")
def show() -> None:
    """List stored baselines: environment key, commit, date and scenario count."""
    infos = FileStore(Path.cwd()).list_baselines()
    if not infos:
        click.echo(
            f"no baselines in {BASELINES_DIR}/; run `leakbench bench` then "
            "`leakbench baseline save`"
        )
        return
    here = environment_key()
    grid = Table(title="baselines", title_justify="left")
    for column in ("key", "commit", "created", "scenarios", "file"):
        grid.add_column(column, justify="right" if column == "scenarios" else "left")
    for info in infos:
        # Text, not str: paths and error messages must never be parsed as rich markup.
        key = Text(f"{info.key} (this environment)" if info.key == here else info.key)
        if info.error:
            grid.add_row(key, "", "", "", Text(f"unreadable: {info.error}", style="red"))
            continue
        cells = (info.git_commit[:12], info.created, str(info.scenarios), relative(info.path))
        grid.add_row(key, *(Text(c) for c in cells))
    terminal.console().print(grid)
