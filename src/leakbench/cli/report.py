"""``leakbench report [RESULTS] [--baseline B] --html OUT``: the HTML report.

Writes one self-contained HTML file (``leakbench.reports.html.page``), runs ``memray flamegraph
--leaks`` for the leaking or regressed scenarios into ``<OUT dir>/flamegraphs/``, and
prints the report's path, so ``make bench`` can point the reader at it.

Exit codes: 0 when the report was written (it reports regressions, it does not gate on
them: that is ``leakbench compare``'s job), 2 on bad input (missing or corrupt results,
baseline or workers file, bad budget), each a one-line error. Problems that only make the
report poorer (no series in an older file, missing captures, no stored baseline) become
notes in the page instead.
"""

from __future__ import annotations

from pathlib import Path

import click

from leakbench._util.atomic import write_text_atomic
from leakbench.cli.errors import BadInputError, load_budgets, load_lenient
from leakbench.gate import store
from leakbench.gate.results import (
    Results,
)
from leakbench.gate.verdicts.records import Comparison
from leakbench.gate.verdicts.rules import UnknownScenarioError, compare
from leakbench.reports.html import flamegraphs
from leakbench.reports.html import page as html_page
from leakbench.reports.html.workers import WorkersError, WorkersTable, load_workers


def _baseline(path: Path | None, head: Results) -> tuple[Results | None, Path | None, list[str]]:
    """The explicit ``--baseline``, else the stored one for HEAD's environment if any."""
    if path is None and not store.baseline_path(head.environment.key).is_file():
        return (
            None,
            None,
            [
                f"no baseline stored for {head.environment.key}: no overlay and no verdicts "
                "(`leakbench baseline save` stores one; or pass --baseline)"
            ],
        )
    base, base_path, notes = load_lenient(path, head.environment.key)
    return base, base_path, notes


@click.command(name="report")
@click.argument("results", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--baseline",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Results to overlay and compare with (default: the stored baseline, if any).",
)
@click.option(
    "--html",
    "html_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the report, e.g. .leakbench/report/index.html.",
)
@click.option(
    "--workers",
    "workers_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A `leakbench workers --json` file: adds the worker-sizing table.",
)
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="pyproject.toml holding [tool.leakbench] budgets (default: the nearest one).",
)
@click.option("--no-flamegraphs", is_flag=True, help="Do not run memray flamegraph.")
def command(
    results: Path | None,
    baseline: Path | None,
    html_path: Path,
    workers_path: Path | None,
    config: Path | None,
    no_flamegraphs: bool,
) -> None:
    """Write an HTML report of RESULTS (default: the latest run): retained memory per
    iteration, leaks, verdicts against the baseline, memray flame graphs of the leaking
    scenarios. Prints the report's path. Exit 0 when written, 2 on bad input."""
    budget_config = load_budgets(config)
    head, head_path, notes = load_lenient(results, "head")
    base, base_path, base_notes = _baseline(baseline, head)
    notes += base_notes
    workers: WorkersTable | None = None
    if workers_path is not None:
        try:
            workers = load_workers(workers_path)
        except WorkersError as exc:
            raise BadInputError(str(exc)) from exc
    comparison: Comparison | None = None
    if base is not None:
        if base.environment.key != head.environment.key:
            notes.append(
                f"baseline measured in {base.environment.key}, results in "
                f"{head.environment.key}: memory differences may come from the environment"
            )
        try:
            comparison = compare(
                base,
                head,
                budget_config,
                base_label=str(base_path),
                head_label=str(head_path),
                allow_other_environment=True,
            )
        except UnknownScenarioError as exc:  # pragma: no cover - no --scenario here
            raise BadInputError(str(exc)) from exc
    flames: dict[str, flamegraphs.FlameGraph] = {}
    targets = html_page.flame_targets(head, budget_config, comparison)
    if targets and not no_flamegraphs:
        out_dir = html_path.parent / "flamegraphs"
        flames = flamegraphs.generate(targets, out_dir, created=head.created)
        missing = sorted(n for n, f in flames.items() if f.path is None)
        if missing:
            notes.append(
                f"no flame graph for {len(missing)} scenario(s) ({', '.join(missing)}): "
                "see the note on each card"
            )
    page = html_page.render(
        html_page.ReportInput(
            head=head,
            head_label=str(head_path),
            config=budget_config,
            base=base,
            base_label=str(base_path or ""),
            comparison=comparison,
            flames=flames,
            workers=workers,
            workers_label=str(workers_path or ""),
            notes=tuple(notes),
        ),
        html_path.parent,
    )
    try:
        write_text_atomic(html_path, page)
    except OSError as exc:
        raise BadInputError(f"{html_path}: cannot write the report ({exc})") from exc
    made = sum(f.path is not None for f in flames.values())
    click.echo(f"report: {html_path} ({made} flame graph{'s' if made != 1 else ''})")
