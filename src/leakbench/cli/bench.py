"""``leakbench bench``: measure scenarios (memray, callgrind, pytest-benchmark), write results,
compare.

Each scenario gets a memory pass, an instruction pass (CPU instructions per iteration under
Valgrind) and a time pass (``leakbench.gate.measure.runner``), each in a fresh process
(``leakbench.gate.measure.child``). Without Valgrind the run says so in one line (with the
install command) and goes on: the results then hold no instruction figure, and the comparison
gates on what it has. The results document is written
atomically under ``.leakbench/results/`` (and ``--out`` if given) only once every scenario was
measured, so an interrupted run leaves no partial file (and never touches ``baselines/``);
an ``--out`` that holds anything but leakbench results (a test file, another tool's JSON) is
refused before measuring (``leakbench._util.output_guard``).
``--shard K/N`` measures a deterministic share (``leakbench.gate.shards``); the results record
what was asked (``selection``: the package's scenarios, the names given, the shard), so a
comparison says "not measured in this run" rather than "removed" for the rest.
The run then ends with ``leakbench compare`` against ``baselines/<environment key>.json`` and
exits like it (0 ok, 1 regression, 2 bad input); with no baseline it says so, with the hint to
run ``leakbench baseline save``, and exits 2 (``--no-compare`` to only measure).
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import click

from leakbench._util.output_guard import json_document
from leakbench._util.signals import deferred_signals, sigterm_as_interrupt, test_pause
from leakbench.cli.compare import command as compare_command
from leakbench.cli.errors import BadInputError, Interrupted, load_budgets, refuse_foreign
from leakbench.cli.params import POSITIVE_SECONDS, SUITES_EXPECTED, SUITES_HELP, suites_name
from leakbench.cli.progress import Steps
from leakbench.gate import shards
from leakbench.gate.measure import instructions as valgrind
from leakbench.gate.measure.plan import DEFAULT_BUDGET
from leakbench.gate.measure.runner import DEFAULT_TIME_PROCESSES, BenchOptions, run, steps
from leakbench.gate.measure.spawn import MeasurementError, default_cpu
from leakbench.gate.results import SCHEMA as RESULTS_SCHEMA
from leakbench.gate.results import Results, Selection, write_results
from leakbench.gate.scenarios import (
    Scenario,
    SuitesError,
    UnknownScenarioError,
    discover,
    select,
)
from leakbench.gate.shards import Shard, ShardError, parse_shard
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


def _shard(ctx: click.Context, param: click.Parameter, value: str | None) -> Shard | None:
    if value is None:
        return None
    try:
        return parse_shard(value)
    except ShardError as exc:
        raise click.BadParameter(str(exc)) from exc


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
@click.option("--suites", default=None, callback=suites_name, help=SUITES_HELP)
@click.option(
    "--shard",
    callback=_shard,
    metavar="K/N",
    help="Measure only shard K of N (the selected scenarios sorted by name, every N-th from "
    "the K-th), for N CI jobs; `leakbench merge` joins their results.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the results here (besides .leakbench/results/<time>-<commit>-<pid>-"
    "<random>.json).",
)
@click.option(
    "--time-budget",
    type=POSITIVE_SECONDS,
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
    shard: Shard | None,
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
    if numprocesses is not None or _addopts_has_xdist():
        click.echo(XDIST_NOTE, err=True)
    root = Path.cwd()
    load_budgets(None)  # a bad or misspelt [tool.leakbench] key stops before any measuring
    available, chosen = _choose(suites, root, list(names))
    if shard is not None:
        share = set(shards.share([c.name for c in chosen], shard))
        if not share:
            raise BadInputError(
                f"--shard {shard}: holds no scenario ({len(chosen)} selected); use at most "
                f"{len(chosen)} shards"
            )
        chosen = [c for c in chosen if c.name in share]
    selection = Selection(
        suites=suites,
        available=sorted(available),
        requested=list(names),
        shards=[shard.index] if shard else [1],
        shard_count=shard.count if shard else 1,
    )
    store = FileStore(root)
    _check_writable(store.latest_results_path(), "the latest results", None)
    if out is not None:
        _check_writable(out, "--out", "pass a file path in an existing, writable folder")
        refuse_foreign(out, json_document(RESULTS_SCHEMA), "--out")  # never a test file
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
            results = replace(_measure(chosen, options), selection=selection)
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM: exit 130, never 1 ("regression") to CI
            raise Interrupted("nothing was written") from None
        path = _save(store, results, out)
        latest = store.latest_results_path()
        held = f", shard {shard}" if shard else ""
        click.echo(
            f"results written to {relative(path)} ({len(results.scenarios)} scenarios{held}; "
            f"copy: {relative(latest)})"
        )
        test_pause("bench-written")
        if compare:
            _compare(path, results.environment.key, store)


def _choose(suites: str, root: Path, names: list[str]) -> tuple[list[str], list[Scenario]]:
    """Every scenario name of ``--suites`` and the chosen scenarios; a value that is no
    importable package (a path, "", a plain module, a missing folder) is one line naming it,
    before anything runs."""
    if str(root.resolve()) not in sys.path:  # as discovery does
        sys.path.insert(0, str(root.resolve()))
    try:
        spec = importlib.util.find_spec(suites)
    except (ImportError, ValueError) as exc:  # a parent that is no package, or fails to import
        raise BadInputError(f"--suites {suites!r}: cannot import it from {root} ({exc})") from exc
    if spec is None:
        raise BadInputError(f"--suites {suites!r}: no such package in {root}; {SUITES_EXPECTED}")
    if spec.submodule_search_locations is None:
        raise BadInputError(f"--suites {suites!r}: a module, not a package; {SUITES_EXPECTED}")
    try:
        known = discover(suites, root)
    except SuitesError as exc:  # it imported: a bad SCENARIOS entry, a bad or duplicate name
        raise BadInputError(f"scenarios of {suites!r}: {exc}") from exc
    except Exception as exc:  # the scenario modules' own import errors
        raise BadInputError(
            f"--suites {suites!r}: cannot import it from {root} ({type(exc).__name__}: {exc})"
        ) from exc
    if not known:
        raise BadInputError(
            f"--suites {suites!r}: no module of it defines SCENARIOS; {SUITES_EXPECTED}"
        )
    try:
        return list(known), select(known, names)
    except UnknownScenarioError as exc:
        raise BadInputError(str(exc)) from exc


def _check_writable(path: Path, what: str, hint: str | None) -> None:
    """Refuse, before measuring, a results path that cannot be written: a directory, a
    missing or unwritable folder (probed with a real temp file, since root passes every
    permission check)."""
    hint = hint or f"remove or move {relative(path)}"
    if path.is_dir():
        raise BadInputError(f"{relative(path)} ({what}) is a directory; {hint}")
    folder = path.parent
    if what == "--out" and not folder.is_dir():
        raise BadInputError(f"--out {path}: folder {folder} does not exist; {hint}")
    probe_in = folder
    while not probe_in.is_dir() and probe_in != probe_in.parent:  # folders made on writing
        if probe_in.exists():
            raise BadInputError(f"{relative(probe_in)} ({what}) is not a folder; {hint}")
        probe_in = probe_in.parent
    try:
        with deferred_signals():  # never leave the probe behind
            fd, probe = tempfile.mkstemp(prefix=".leakbench-probe-", dir=probe_in)
            os.close(fd)
            os.unlink(probe)
    except OSError as exc:
        raise BadInputError(
            f"{relative(path)} ({what}): cannot write in {probe_in} ({exc.strerror}); {hint}"
        ) from exc


def _save(store: FileStore, results: Results, out: Path | None) -> Path:
    """Write the run (and ``--out``); a full disk or a vanished folder is one line, exit 2,
    and leaves no partial file (every write is atomic)."""
    target = store.results_dir
    try:
        path = store.save_results(results)
        if out is not None:
            target = out
            path = write_results(results, out)
    except OSError as exc:
        raise BadInputError(
            f"{relative(target)}: cannot write the results ({exc.strerror or exc}); no partial "
            "file was left, free space and run `leakbench bench` again"
        ) from exc
    return path


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
    if not baseline.exists() and not baseline.is_symlink():
        raise BadInputError(
            f"{relative(baseline)}: no baseline for environment {key}, nothing compared; run "
            f"`leakbench baseline save` to store {relative(results_path)} as the baseline "
            "(then commit it), or pass --no-compare"
        )
    # baseline=None: the stored one, loaded with the store's checks (a symlink loop, a corrupt
    # committed file) and their hints.
    click.get_current_context().invoke(compare_command, baseline=None, results=results_path)
