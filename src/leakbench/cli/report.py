"""``leakbench report [RESULTS] [--baseline B] --html OUT``: the HTML report.

Writes one self-contained HTML file (``leakbench.reports.html.page``), runs ``memray flamegraph
--leaks`` for the leaking or regressed scenarios into ``<OUT dir>/flamegraphs/``
(``leakbench.reports.html.flamegraphs``), and prints the report's path, so ``make bench`` can
point the reader at it.

Measure, then render: this module computes everything the page shows that is a verdict or
a statistic (the comparison, each scenario's leak judgement from
``leakbench.gate.verdicts.leaks``, HEAD's median time and its bootstrap interval) into a
:class:`~leakbench.reports.html.page.ReportInput` (:func:`page_input`); the page only formats it.

Neither the page nor a flame graph replaces a file leakbench did not write: an ``--html``
path (or a ``flamegraphs/<scenario>.html`` beside it) holding anything else is refused
before anything is written (``leakbench._util.output_guard``).

Exit codes: 0 when the report was written (it reports regressions, it does not gate on
them: that is ``leakbench compare``'s job), 2 on bad input (missing or corrupt results,
baseline or workers file, bad budget), each a one-line error. Problems that only make the
report poorer (no series in an older file, missing captures, no stored baseline) become
notes in the page instead.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import click

from leakbench._util.atomic import write_text_atomic
from leakbench._util.output_guard import FLAME_GRAPH, REPORT_PAGE, Owned
from leakbench.cli.errors import BadInputError, load_base, load_budgets, load_head, refuse_foreign
from leakbench.gate.results import Results
from leakbench.gate.store import FileStore
from leakbench.gate.verdicts.bootstrap import CONFIDENCE, SEED, median_interval
from leakbench.gate.verdicts.budgets import BudgetConfig
from leakbench.gate.verdicts.leaks import judge_all
from leakbench.gate.verdicts.records import Comparison
from leakbench.gate.verdicts.rules import compare
from leakbench.reports.html import flamegraphs
from leakbench.reports.html import page as html_page
from leakbench.reports.html.parts import MedianInterval
from leakbench.reports.html.workers import WorkersError, WorkersTable, load_workers

TIME_RESAMPLES = 400
"""Bootstrap resamples for HEAD's time interval on a card. The interval only orients the
reader (no verdict rests on it), and 400 is what the report has always drawn, so the
numbers on the page stay those of earlier reports."""


def head_times(head: Results) -> dict[str, MedianInterval]:
    """``scenario -> (median, low, high)`` seconds per iteration over HEAD's time rounds:
    the card's time when there is no comparison to show the change's interval instead."""
    return {
        name: median_interval(
            s.time.rounds, resamples=TIME_RESAMPLES, confidence=CONFIDENCE, seed=SEED
        )
        for name, s in head.scenarios.items()
        if s.time is not None and s.time.rounds
    }


def page_input(
    head: Results,
    head_label: str,
    config: BudgetConfig,
    *,
    base: Results | None = None,
    base_label: str = "",
    comparison: Comparison | None = None,
    workers: WorkersTable | None = None,
    workers_label: str = "",
    notes: tuple[str, ...] = (),
) -> html_page.ReportInput:
    """The page's input with its verdicts and statistics computed (flame graphs come after:
    which scenarios get one depends on these verdicts, see ``page.flame_targets``)."""
    return html_page.ReportInput(
        head=head,
        head_label=head_label,
        leaks=judge_all(head, config),
        times=head_times(head),
        base=base,
        base_label=base_label,
        base_leaks=judge_all(base, config) if base is not None else {},
        comparison=comparison,
        workers=workers,
        workers_label=workers_label,
        notes=notes,
    )


def _guard(path: Path, owned: Owned) -> None:
    """Refuse, before anything is written, a page or flame graph path holding a file that
    leakbench did not write (a test file, another tool's page). A path where nothing exists
    is left to the write, whose error names the report (a file as the folder)."""
    if not os.path.lexists(path):
        return
    refuse_foreign(path, owned, "--html")


def _baseline(path: Path | None, head: Results) -> tuple[Results | None, Path | None, list[str]]:
    """The explicit ``--baseline``, else the stored one for HEAD's environment if any."""
    stored = FileStore(Path.cwd()).baseline_path(head.environment.key)
    if path is None and not stored.exists() and not stored.is_symlink():  # a loop is an error
        return (
            None,
            None,
            [
                f"no baseline stored for {head.environment.key}: no overlay and no verdicts "
                "(`leakbench baseline save` stores one; or pass --baseline)"
            ],
        )
    base, base_path = load_base(path, head.environment.key)
    return base, base_path, []


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
    _guard(html_path, REPORT_PAGE)
    budget_config = load_budgets(config)
    head, head_path = load_head(results)
    base, base_path, notes = _baseline(baseline, head)
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
        # No scenario selection here, so compare cannot raise UnknownScenarioError, and
        # another environment is a note above, not an error.
        comparison = compare(
            base,
            head,
            budget_config,
            base_label=str(base_path),
            head_label=str(head_path),
            allow_other_environment=True,
        )
    inp = page_input(
        head,
        str(head_path),
        budget_config,
        base=base,
        base_label=str(base_path or ""),
        comparison=comparison,
        workers=workers,
        workers_label=str(workers_path or ""),
    )
    flames: dict[str, flamegraphs.FlameGraph] = {}
    targets = html_page.flame_targets(inp)
    if targets and not no_flamegraphs:
        out_dir = html_path.parent / "flamegraphs"
        for name in sorted(targets):  # memray writes with --force: check before it runs
            _guard(flamegraphs.path_for(name, out_dir), FLAME_GRAPH)
        flames = flamegraphs.generate(targets, out_dir, created=head.created)
        missing = sorted(n for n, f in flames.items() if f.path is None)
        if missing:
            notes.append(
                f"no flame graph for {len(missing)} scenario(s) ({', '.join(missing)}): "
                "see the note on each card"
            )
    page = html_page.render(replace(inp, flames=flames, notes=tuple(notes)), html_path.parent)
    try:
        write_text_atomic(html_path, page)
    except OSError as exc:
        raise BadInputError(f"{html_path}: cannot write the report ({exc})") from exc
    made = sum(f.path is not None for f in flames.values())
    click.echo(f"report: {html_path} ({made} flame graph{'s' if made != 1 else ''})")
