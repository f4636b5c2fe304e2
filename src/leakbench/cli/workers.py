"""``leakbench workers [OPTIONS] [-- PYTEST ARGS]``: measure which ``pytest -n`` to use.

Teams pick ``-n`` by hand, three runs per level, and find the limit by crashing: a suite
whose workers leak climbs past the machine's RAM at a high ``-n``. This command runs the
suite at each worker count (default: ``-n 0``, no workers, then 1, 2, 4, ...) ``--repeat``
times, interleaved round by round so that machine
noise hits every level alike, measures time, peak RSS of the whole process tree, swap and
the outcome (``leakbench.workers.run``), and recommends the fastest level that passed every run
within ``--memory-budget`` (``leakbench.workers.choose``); ``--groups`` adds the heavy / long /
light split (``leakbench.workers.groups``). By default a run that exceeds the budget is killed
at once and higher levels are skipped, so trying the levels is safe on the very suites that
need it. Measure, then render: the machine (RAM, swap, CPUs) is read once here into a
:class:`~leakbench.workers.run.Machine` and the output (``leakbench.reports.workers_table``)
is rendered from records only.

A ``--json`` path that holds anything but a workers document leakbench wrote (a test file,
another tool's JSON) is refused before any run (``leakbench._util.output_guard``); the
``--groups`` files are leakbench's own, under ``.leakbench/groups/``.

Exit codes: 0 with a recommendation, 1 when no level qualified, 2 on bad input (pytest
usage error or no tests collected, a bad option value, xdist missing), each a one-line
error, 130 on Ctrl-C or SIGTERM (the running suite's process tree killed first).
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import click
from rich.text import Text

from leakbench._util.atomic import write_json_atomic
from leakbench._util.output_guard import json_document
from leakbench._util.proc import total_ram
from leakbench._util.signals import sigterm_as_interrupt
from leakbench._util.sizes import ACCEPTED_FORMS, parse_size
from leakbench.cli.errors import BadInputError, refuse_foreign
from leakbench.cli.params import Seconds
from leakbench.cli.progress import Steps
from leakbench.reports import terminal, workers_table
from leakbench.workers import groups as grouping
from leakbench.workers.choose import (
    MAX_WORKERS,
    default_levels,
    parse_levels,
    recommend,
    summarize,
)
from leakbench.workers.groups import GroupAdvice, GroupRules, Groups, LevelFacts
from leakbench.workers.run import (
    DEFAULT_INTERVAL,
    Outcome,
    PytestInputError,
    PytestRun,
    RunOptions,
    collect,
    read_machine,
    run_pytest,
)


class SizeParam(click.ParamType[tuple[int, str]]):
    """A size option: ``2GB``, ``512MiB``, ``75%`` of RAM; anything else is a usage error
    that lists the accepted forms. Converts to ``(bytes, the text as typed)``."""

    name = "SIZE"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[int, str]:
        if isinstance(value, tuple):
            return value
        try:
            size = parse_size(str(value), total=total_ram())
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        if size <= 0:
            self.fail(f"{value!r}: must be above 0; expected {ACCEPTED_FORMS}", param, ctx)
        return size, str(value)


MAX_INTERVAL = 10.0
"""The longest sampling interval: beyond it a run's peak is a guess from a sample or two."""


def _levels(ctx: click.Context, param: click.Parameter, value: str | None) -> list[int] | None:
    if value is None:
        return None
    try:
        return parse_levels(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


@click.command(
    name="workers",
    context_settings={"allow_interspersed_args": False},
    epilog="Example: leakbench workers --levels 1,2,4 --repeat 2 -- tests/ -q -k 'not slow'",
)
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED, metavar="[-- PYTEST ARGS]")
@click.option(
    "--levels",
    callback=_levels,
    metavar="N,N,...",
    help="Worker counts to try, e.g. 1,2,3; 0 = -n 0 (no workers); at most "
    f"{MAX_WORKERS}. Default: 0, 1, 2, 4, ... up to --max, plus the CPU count.",
)
@click.option(
    "--max",
    "maximum",
    type=click.IntRange(min=1, max=MAX_WORKERS),
    help="Highest worker count of the default levels (default: CPU count x 2; "
    f"at most {MAX_WORKERS}).",
)
@click.option(
    "--repeat",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Runs per level (the table shows the median, min and max).",
)
@click.option(
    "--memory-budget",
    type=SizeParam(),
    default="75%",
    show_default=True,
    help="Most RAM the whole process tree may use: 2GB, 512MiB, or a percentage of RAM.",
)
@click.option(
    "--guard/--no-guard",
    default=True,
    help="Kill a run as soon as it exceeds the memory budget and skip higher levels "
    "(default), so that a leaking suite cannot take the machine down.",
)
@click.option(
    "--timeout",
    type=Seconds(min=0, min_open=True),
    metavar="SECONDS",
    help="Kill a run after this long and count it as a timeout.",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the table, every run and the recommendation as JSON here.",
)
@click.option(
    "--groups",
    is_flag=True,
    help="Also split the tests into heavy / long / light, write .leakbench/groups/*.txt "
    "and recommend a worker count per group.",
)
@click.option(
    "--heavy-rss",
    type=SizeParam(),
    default="100MB",
    show_default=True,
    help="--groups: a test whose peak RSS reaches this is heavy.",
)
@click.option(
    "--long-seconds",
    type=Seconds(min=0),
    default=1.0,
    show_default=True,
    help="--groups: a test that takes this long (setup+call+teardown) is long.",
)
@click.option(
    "--interval",
    type=Seconds(min=0.005, max=MAX_INTERVAL),
    default=DEFAULT_INTERVAL,
    show_default=True,
    help=f"Seconds between samples of the process tree's memory (at most {MAX_INTERVAL:g}).",
)
def command(
    pytest_args: tuple[str, ...],
    levels: list[int] | None,
    maximum: int | None,
    repeat: int,
    memory_budget: tuple[int, str],
    guard: bool,
    timeout: float | None,
    json_path: Path | None,
    groups: bool,
    heavy_rss: tuple[int, str],
    long_seconds: float,
    interval: float,
) -> None:
    """Run the pytest suite at several -n levels and recommend the fastest that passes
    every run within the memory budget. Exit 0 with a recommendation, 1 without, 2 on
    bad input, 130 when interrupted."""
    if levels is not None and maximum is not None:
        raise BadInputError("--levels and --max exclude each other")
    if json_path is not None:  # a test file or another tool's JSON: refused before any run
        refuse_foreign(json_path, json_document(workers_table.SCHEMA), "--json")
    _check_args(pytest_args)
    with _interrupt_exits_130():
        machine = read_machine()
        cpus = machine.cpus
        default_max = min(cpus * 2, MAX_WORKERS)
        chosen = (
            levels
            if levels is not None
            else default_levels(maximum or default_max, min(cpus, MAX_WORKERS))
        )
        budget, budget_text = memory_budget
        budget_label = workers_table.budget_label(budget, budget_text, machine)
        options = RunOptions(
            args=pytest_args,
            python=sys.executable,
            interval=interval,
            limit=budget if guard else None,
            timeout=timeout,
        )
        rules = GroupRules(heavy_rss[0], long_seconds, heavy_rss[1]) if groups else None
        problem = grouping.groups_problem() if groups else None
        if problem:
            raise BadInputError(f"--groups: {problem}")
        try:
            tests = collect(options)
            runs, skipped, split = _measure(chosen, repeat, options, rules)
        except PytestInputError as exc:
            raise BadInputError(str(exc)) from exc
        summaries = summarize(runs, chosen, budget, skipped)
        recommendation = recommend(summaries, budget_label)
        out = terminal.console()
        out.print(Text(workers_table.command_line(options)), soft_wrap=True)
        out.print(workers_table.table(summaries, recommendation, tests))
        out.print(Text(f"memory budget: {budget_label}; {workers_table.swap_note(machine)}"))
        out.print(Text(workers_table.recommendation_line(recommendation)))
        advice: dict[str, GroupAdvice] = {}
        if split is not None:
            facts = [
                LevelFacts(s.workers, s.passed_all, s.controller_rss, s.median) for s in summaries
            ]
            advice = grouping.advise(split, facts, recommendation.workers, budget)
            try:
                paths = grouping.write_groups(split.tests)
            except OSError as exc:
                raise BadInputError(
                    f"--groups: cannot write the group files ({exc.strerror or exc})"
                ) from exc
            workers_table.print_groups(out, split, advice, paths)
        if json_path is not None:
            document = workers_table.document(
                summaries, recommendation, options, budget, budget_text, tests, machine
            )
            document["groups"] = workers_table.groups_json(split, advice)
            try:
                write_json_atomic(json_path, document)
            except OSError as exc:
                raise BadInputError(f"{json_path}: cannot write the JSON ({exc})") from exc
            out.print(Text(f"json: {json_path}"))
        raise SystemExit(0 if recommendation.workers is not None else 1)


@contextlib.contextmanager
def _interrupt_exits_130() -> Iterator[None]:
    """Ctrl-C or SIGTERM: one line and exit 130, never click's "Aborted!" and exit 1 (which
    would read as "no recommendation"). The running suite's process tree is killed before the
    interrupt gets here (``leakbench.workers.run``)."""
    with sigterm_as_interrupt():
        try:
            yield
        except KeyboardInterrupt:
            click.echo(
                "leakbench: interrupted; the running pytest and its workers were stopped",
                err=True,
            )
            raise SystemExit(130) from None


def _check_args(args: Sequence[str]) -> None:
    """Refuse what cannot work before running anything: our own -n, or no xdist."""
    for arg in args:
        if arg.startswith(("-n", "--numprocesses")):
            raise BadInputError(
                f"drop {arg!r} from the pytest arguments: leakbench workers sets -n per level "
                "(use --levels to choose them)"
            )
    if not _xdist_installed():
        raise BadInputError(
            f"pytest-xdist is not installed for {sys.executable}; "
            "`pip install pytest-xdist` and run again"
        )


def _xdist_installed() -> bool:
    """pytest-xdist importable by this interpreter, which is the one that runs pytest."""
    return importlib.util.find_spec("xdist") is not None


def _measure(
    levels: Sequence[int], repeat: int, options: RunOptions, rules: GroupRules | None
) -> tuple[list[PytestRun], dict[int, str], Groups | None]:
    """Rounds of every level (interleaved), then the groups pass; progress on stderr.

    When the guard stops a level, that level and every higher one get no further runs.
    :class:`PytestInputError` propagates (the caller turns it into a one-line error).
    """
    runs: list[PytestRun] = []
    skipped: dict[int, str] = {}
    split: Groups | None = None
    with Steps("workers", len(levels) * repeat + (1 if rules else 0)) as steps:
        stopped_at: int | None = None
        for round_ in range(1, repeat + 1):
            for level in levels:
                if stopped_at is not None and level >= stopped_at:
                    if level > stopped_at:
                        skipped.setdefault(level, f"-n {stopped_at} exceeded the memory budget")
                    steps.advance()
                    continue
                steps.begin(f"-n {level}  run {round_}/{repeat}")
                run = run_pytest(level, options)
                runs.append(run)
                if run.outcome is Outcome.OVER_BUDGET:
                    stopped_at = level
                steps.advance()
        if rules is not None:
            steps.begin("-n 0  measuring each test for --groups")
            split = grouping.measure(options, rules)
            steps.advance()
        steps.finish()
    return runs, skipped, split
