"""``leakbench baseline save|show``: store and list per-environment baselines.

A baseline is a results document at ``baselines/<environment key>.json``, committed.
``save`` merges a run into it (``leakbench.gate.merge.into_baseline``: each scenario keeps its
own commit, date and environment) and prints what it added, replaced and kept, so a subset or
``--memory-only`` run never wipes the rest; ``--replace`` replaces the whole file; a run of 0
scenarios is refused. Saving goes through ``leakbench.gate.store.FileStore.save_baseline``
(temp file, fsync, ``os.replace``), so a Ctrl-C or kill mid-save leaves the previous baseline whole.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table
from rich.text import Text

from leakbench._util.signals import test_pause
from leakbench.cli.errors import BadInputError, load_base, load_head
from leakbench.gate.environment import environment_key
from leakbench.gate.merge import into_baseline
from leakbench.gate.store import BASELINES_DIR, FileStore
from leakbench.reports import terminal
from leakbench.reports.cells import relative


@click.group(name="baseline")
def command() -> None:
    """Save the latest results as this environment's baseline, or list baselines."""


@command.command(name="save")
@click.argument("results", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--replace",
    is_flag=True,
    help="Replace the whole stored baseline with RESULTS (default: merge RESULTS into it).",
)
def save(results: Path | None, replace: bool) -> None:
    """Merge RESULTS (default: the latest run) into the baseline of its environment key: its
    scenarios are added or replace their old entries, every other one is kept."""
    loaded, source = load_head(results)
    if not loaded.scenarios:
        raise BadInputError(
            f"{relative(source)}: holds 0 scenarios, nothing to save; run `leakbench bench` "
            "with scenarios first"
        )
    store = FileStore(Path.cwd())
    old = None
    if not replace and store.baseline_path(loaded.environment.key).exists():
        old, _ = load_base(None, loaded.environment.key)
    merged, changes = into_baseline(old, loaded)
    test_pause("baseline-loaded")
    try:
        target = store.save_baseline(merged)
    except (OSError, ValueError) as exc:
        raise BadInputError(f"{source}: cannot save the baseline ({exc})") from exc
    env = loaded.environment
    commit = env.git_commit[:12] or "no commit"
    how = "replaced the whole file" if replace else "merged" if old is not None else "new"
    click.echo(
        f"saved {relative(target)} ({len(merged.scenarios)} scenarios, {commit}, "
        f"from {relative(source)}; {how})"
    )
    for label, names in (
        ("added", changes.added),
        ("replaced", changes.replaced),
        ("kept", changes.kept),
    ):
        click.echo(f"  {label} {len(names)}: {', '.join(names) if names else '-'}")
    for dropped in changes.dropped_passes:
        click.echo(
            f"warning: {dropped} pass is no longer in the baseline (this run had none)",
            err=True,
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
