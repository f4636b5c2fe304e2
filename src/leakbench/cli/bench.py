"""``leakbench bench``: measure scenarios (memray, callgrind, pytest-benchmark), write results,
compare.

Each scenario gets a memory pass, an instruction pass (CPU instructions per iteration under
Valgrind) and a time pass (``leakbench.gate.measure.runner``), each in a fresh process
(``leakbench.gate.measure.child``). Without Valgrind the run says so in one line (with the
install command) and goes on: the results then hold no instruction figure, and the comparison
gates on what it has. The results document is written
atomically under ``.leakbench/results/`` (and ``--out`` if given) only once every scenario was
measured, so an interrupted run leaves no partial file (and never touches ``baselines/``).
The run then ends with ``leakbench compare`` against ``baselines/<environment key>.json`` and
exits like it (0 ok, 1 regression, 2 bad input); with no baseline it says so, with the hint to
run ``leakbench baseline save``, and exits 2 (``--no-compare`` to only measure).
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import click

from leakbench._util.signals import sigterm_as_interrupt
from leakbench.cli.compare import command as compare_command
from leakbench.cli.errors import BadInputError, load_budgets
from leakbench.cli.progress import Steps
from leakbench.gate.measure import instructions as valgrind
from leakbench.gate.measure.plan import DEFAULT_BUDGET
from leakbench.gate.measure.runner import DEFAULT_TIME_PROCESSES, BenchOptions, run, steps
from leakbench.gate.measure.spawn import MeasurementError, default_cpu
from leakbench.gate.results import Results, write_results
from leakbench.gate.scenarios import Scenario, UnknownScenarioError, discover, select
from leakbench.gate.store import FileStore, Store
from leakbench.reports.cells import relative

XDIST_NOTE = (
    "note: the time pass never runs under pytest-xdist (pytest-benchmark disables itself "
    "there); -n is ignored and scenarios are measured one process at a time"
)


def _positive(ctx: click.Context, param: click.Parameter, value: int | None) -> int | None:
    if value is not None and value < 1:
        raise click.BadParameter("must be at least 1")
    return value


@click.command(name="bench")
@click.argument("names", nargs=-1, metavar="[SCENARIO]...")
@click.option(
    "--iterations",
    type=int,
    callback=_positive,
    help="Tracked iterations per memory pass (default: the scenario's bench_iterations).",
)
@click.option(
    "--memory-only", is_flag=True, help="Skip the time passes (instructions and wall time)."
)
@click.option("--time-only", is_flag=True, help="Skip the memory pass.")
@click.option(
    "--instructions/--no-instructions",
    default=True,
    help="Count CPU instructions per iteration under Valgrind (default; what time gates on).",
)
@click.option(
    "--instruction-iterations",
    type=int,
    callback=_positive,
    help="Iterations the instruction pass counts (default: each scenario's, else 20).",
)
@click.option(
    "--suites", default="suites", show_default=True, help="Package holding scenario modules."
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the results here (default: .leakbench/results/<time>-<commit>.json).",
)
@click.option(
    "--time-budget",
    type=float,
    default=DEFAULT_BUDGET,
    show_default=True,
    help="Seconds of timed scenario rounds per scenario (the reference adds as much again).",
)
@click.option(
    "--time-processes",
    type=int,
    default=DEFAULT_TIME_PROCESSES,
    show_default=True,
    callback=_positive,
    help="Fresh processes per time pass, run in turns across scenarios; they share the budget.",
)
@click.option(
    "--pin/--no-pin",
    default=True,
    help="Pin measurements to one CPU (default; times become far more repeatable).",
)
@click.option(
    "--compare/--no-compare",
    default=True,
    help="Compare with this environment's baseline and exit like `leakbench compare` "
    "(exit 2 when there is none).",
)
@click.option("-n", "--numprocesses", hidden=True, help="Ignored: see the note it prints.")
def command(
    names: tuple[str, ...],
    iterations: int | None,
    memory_only: bool,
    time_only: bool,
    instructions: bool,
    instruction_iterations: int | None,
    suites: str,
    out: Path | None,
    time_budget: float,
    time_processes: int,
    pin: bool,
    compare: bool,
    numprocesses: str | None,
) -> None:
    """Measure SCENARIOs (names or leak classes; default: all) and write a results file."""
    if memory_only and time_only:
        raise click.UsageError("--memory-only and --time-only exclude each other")
    if time_budget <= 0:
        raise click.BadParameter("must be positive", param_hint="--time-budget")
    if numprocesses is not None or _addopts_has_xdist():
        click.echo(XDIST_NOTE, err=True)
    root = Path.cwd()
    load_budgets(None)  # a bad or misspelt [tool.leakbench] key stops before any measuring
    chosen = _choose(suites, root, list(names))
    count = instructions and not memory_only
    if count and valgrind.find_valgrind() is None:
        click.echo(
            f"leakbench: note: {valgrind.missing()}; no instruction counts, so time does not "
            "gate against the baseline (memory does)",
            err=True,
        )
    with sigterm_as_interrupt():
        options = BenchOptions(
            root=root,
            suites=suites,
            iterations=iterations,
            memory=not time_only,
            time=not memory_only,
            instructions=count,
            instruction_iterations=instruction_iterations,
            time_budget=time_budget,
            time_processes=time_processes,
            cpu=default_cpu() if pin else None,
        )
        try:
            results = _measure(chosen, options)
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM: exit 130, never 1 ("regression") to CI
            click.echo("leakbench: interrupted; nothing was written", err=True)
            raise SystemExit(130) from None
        store = FileStore(root)
        path = store.save_results(results)
        if out is not None:
            path = write_results(results, out)
        latest = store.latest_results_path()
        click.echo(
            f"results written to {relative(path)} ({len(results.scenarios)} scenarios; "
            f"copy: {relative(latest)})"
        )
        if compare:
            _compare(path, results.environment.key, store)


def _choose(suites: str, root: Path, names: list[str]) -> list[Scenario]:
    try:
        known = discover(suites, root)
    except ImportError as exc:
        raise BadInputError(f"cannot import suites package {suites!r} from {root}: {exc}") from exc
    try:
        return select(known, names)
    except UnknownScenarioError as exc:
        raise BadInputError(str(exc)) from exc


def _addopts_has_xdist() -> bool:
    try:
        args = shlex.split(os.environ.get("PYTEST_ADDOPTS", ""))
    except ValueError:
        return False
    return any(a == "-n" or a.startswith(("-n", "--numprocesses")) for a in args)


def _measure(scenarios: list[Scenario], options: BenchOptions) -> Results:
    """Run the passes with a progress bar (plain lines when stderr is not a terminal)."""
    with Steps("bench", steps(scenarios, options)) as bar:
        try:
            results = run(scenarios, options, bar.next)
        except MeasurementError as exc:
            raise BadInputError(f"{exc}; nothing was written") from exc
        bar.finish()
    return results


def _compare(results_path: Path, key: str, store: Store) -> None:
    """Run ``leakbench compare`` on the new results against this environment's baseline and
    exit like it (0 ok, 1 regression, 2 bad input). No baseline is bad input (exit 2): a gate
    that silently passes because nothing was compared would hide every regression."""
    baseline = store.baseline_path(key)
    if not baseline.exists():
        raise BadInputError(
            f"{relative(baseline)}: no baseline for environment {key}, nothing compared; run "
            f"`leakbench baseline save` to store {relative(results_path)} as the baseline "
            "(then commit it), or pass --no-compare"
        )
    click.get_current_context().invoke(compare_command, baseline=baseline, results=results_path)
