"""``leakbench compare-branches BASE [HEAD]``: is this branch fatter or slower than BASE?

Memory is deterministic under memray, so each side gets the ordinary memory pass (or BASE
reuses a stored result of the same commit and environment) and ``leakbench.gate.verdicts.rules``
judges it with the usual budget and floor. Time is not: it is measured side by side in
interleaved ABBA process pairs (``leakbench.gate.verdicts.abba``) and judged on a bootstrap
interval. Every process (listing a side's scenarios, a memory pass, one half of a pair) is
the one measurement child, ``leakbench.gate.measure.child``, started with that side's code
first on the path (``leakbench.gate.git.side_environment``). The result is an ordinary
:class:`~leakbench.gate.verdicts.records.Comparison`, so the reports and exit codes are those
of ``leakbench compare``: 0 within budget (inconclusive only warns), 1 on a regression, 2 on
bad input or a scenario that failed to run. Progress goes to stderr so that ``--format
markdown >> $GITHUB_STEP_SUMMARY`` captures the report only.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import click

from leakbench.cli.errors import BadInputError, load_budgets
from leakbench.cli.options import (
    config_option,
    format_option,
    render,
    scenario_option,
    verbose_option,
)
from leakbench.gate import git
from leakbench.gate.environment import fingerprint
from leakbench.gate.git import GitError, Side
from leakbench.gate.measure.child import (
    DEFAULT_TIMEOUT,
    ScenarioInfo,
    list_scenarios,
    run_memory_pass,
    run_pair_process,
)
from leakbench.gate.measure.plan import Plan
from leakbench.gate.measure.spawn import MeasurementError, default_cpu
from leakbench.gate.results import MemoryResult, Results, ResultsError, ScenarioResult, load_results
from leakbench.gate.scenarios import UnknownScenarioError, matching
from leakbench.gate.store import FileStore
from leakbench.gate.verdicts import budgets
from leakbench.gate.verdicts.abba import (
    DEFAULT_MAX_PAIRS,
    DEFAULT_MAX_TIME,
    DEFAULT_PAIRS,
    STATISTICS,
    PairRun,
    run_pairs,
    time_metric,
    with_time,
)
from leakbench.gate.verdicts.bootstrap import SEED
from leakbench.gate.verdicts.records import Comparison, ScenarioComparison
from leakbench.gate.verdicts.rules import compare


def _say(text: str) -> None:
    click.echo(f"leakbench: {text}", err=True)


def _stored_memory(base: Side, head_root: Path, key: str) -> tuple[dict[str, MemoryResult], str]:
    """Memory results of BASE's exact commit and environment, if any were kept, and where.

    Looks at BASE's committed baseline and at HEAD's kept runs; memory repeats within ~2%
    for the same code, Python and lock, so re-measuring it would only cost time.
    """
    lock = git.lock_hash(base.root)
    candidates = [FileStore(base.root).baseline_path(key), *FileStore(head_root).run_paths()]
    for path in candidates:
        try:
            doc = load_results(path)
        except ResultsError:
            continue
        env = doc.environment
        if (env.git_commit, env.git_dirty, env.key, env.lock_hash) == (base.sha, False, key, lock):
            found = {n: s.memory for n, s in doc.scenarios.items() if s.memory is not None}
            if found:
                return found, str(path)
    return {}, ""


def _results(
    side: Side, infos: dict[str, ScenarioInfo], memory: dict[str, MemoryResult]
) -> Results:
    scenarios = {
        n: ScenarioResult(i.leak_class, i.variant, i.leaks_memory, memory.get(n))
        for n, i in infos.items()
    }
    env = replace(fingerprint(side.root), git_commit=side.sha, git_dirty=side.dirty)
    return Results(datetime.now(UTC).isoformat(timespec="seconds"), env, scenarios)


@click.command(name="compare-branches")
@click.argument("base")
@click.argument("head", required=False)
@format_option
@scenario_option
@click.option(
    "--pairs",
    type=click.IntRange(1),
    default=DEFAULT_PAIRS,
    show_default=True,
    help="ABBA process pairs per scenario before the first decision.",
)
@click.option(
    "--max-pairs",
    type=click.IntRange(1),
    default=DEFAULT_MAX_PAIRS,
    show_default=True,
    help="Never more pairs than this per scenario.",
)
@click.option(
    "--max-time",
    type=float,
    default=DEFAULT_MAX_TIME,
    show_default=True,
    help="Seconds per scenario for adding pairs before calling it inconclusive.",
)
@click.option(
    "--seed",
    type=int,
    default=SEED,
    show_default=True,
    help="Bootstrap seed (fixed: the same ratios always give the same verdict).",
)
@click.option(
    "--iterations",
    type=click.IntRange(1),
    help="Tracked iterations per memory pass (default: each scenario's own).",
)
@click.option("--memory-only", is_flag=True, help="Skip the time pairs.")
@click.option("--time-only", is_flag=True, help="Skip the memory passes.")
@click.option("--suites", default="suites", show_default=True, help="Scenario package.")
@config_option
@click.option("--pin/--no-pin", default=True, help="Pin measurements to one CPU.")
@click.option(
    "--timeout",
    type=float,
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="Seconds before a measurement process is killed.",
)
@click.option(
    "--round-statistic",
    "statistic",
    type=click.Choice(sorted(STATISTICS)),
    default="p10",
    show_default=True,
    help="Per-process statistic of the round times (p10 resists a busy machine).",
)
@verbose_option
def command(
    base: str,
    head: str | None,
    fmt: str,
    scenarios: tuple[str, ...],
    pairs: int,
    max_pairs: int,
    max_time: float,
    seed: int,
    iterations: int | None,
    memory_only: bool,
    time_only: bool,
    suites: str,
    config: Path | None,
    pin: bool,
    timeout: float,
    statistic: str,
    verbose: bool,
) -> None:
    """Compare HEAD (default: the working tree) with BASE (any git ref), each checked out
    as it is in git; the working tree and index are never touched. Exit 0 within budget,
    1 on a regression, 2 on bad input or a scenario that failed to run."""
    if memory_only and time_only:
        raise BadInputError("--memory-only and --time-only exclude each other")
    budget_config = load_budgets(config)
    git.quiet_git()
    try:
        with ExitStack() as stack:
            root = git.repo_root(Path.cwd())
            base_sha = git.resolve(root, base)
            if head is None:
                head_side = Side(
                    "working tree", root, git.resolve(root, "HEAD"), git.is_dirty(root)
                )
            else:
                sha = git.resolve(root, head)
                head_side = Side(head, stack.enter_context(git.temporary_worktree(root, sha)), sha)
            base_side = Side(
                base, stack.enter_context(git.temporary_worktree(root, base_sha)), base_sha
            )
            opts = Options(
                scenarios,
                suites,
                pairs,
                max_pairs,
                max_time,
                seed,
                iterations,
                memory_only,
                time_only,
                default_cpu() if pin else None,
                timeout,
                statistic,
            )
            comparison, failed = _run(base_side, head_side, budget_config, opts)
    except GitError as exc:
        raise BadInputError(str(exc)) from exc
    except KeyboardInterrupt:
        _say("interrupted; the temporary worktree was removed")
        raise SystemExit(130) from None
    render(comparison, fmt, verbose)
    if failed:
        click.echo(f"leakbench: error: failed to run: {'; '.join(failed)}", err=True)
        raise SystemExit(2)
    raise SystemExit(comparison.exit_code)


@dataclass(frozen=True)
class Options:
    """The command line's measurement choices."""

    wanted: Sequence[str]
    suites: str
    pairs: int
    max_pairs: int
    max_time: float
    seed: int
    iterations: int | None
    memory_only: bool
    time_only: bool
    cpu: int | None
    timeout: float
    statistic: str = "p10"


def _list(side: Side, tag: str, o: Options) -> dict[str, ScenarioInfo]:
    """The side's scenarios, imported in a child that sees only that side's code."""
    try:
        with git.side_environment(side.root):
            return list_scenarios(
                suites=o.suites,
                root=side.root,
                what=f"{tag} {side.name}: importing {o.suites}",
                timeout=o.timeout,
            )
    except MeasurementError as exc:
        raise BadInputError(f"{exc}; its scenarios cannot be compared") from exc


def _memory_passes(
    sides: dict[str, Side],
    common: list[str],
    infos: dict[str, dict[str, ScenarioInfo]],
    o: Options,
    failed: dict[str, str],
    notes: list[str],
) -> dict[str, dict[str, MemoryResult]]:
    """Each side's memory pass of every common scenario, BASE's reused when it was kept."""
    memory: dict[str, dict[str, MemoryResult]] = {tag: {} for tag in sides}
    key = fingerprint(sides["HEAD"].root).key
    stored, where = _stored_memory(sides["BASE"], sides["HEAD"].root, key)
    for name in common:
        n = o.iterations or infos["HEAD"][name].bench_iterations
        for tag, side in sides.items():
            if tag == "BASE" and name in stored and stored[name].iterations == n:
                memory[tag][name] = stored[name]
                continue
            _say(f"memory pass ({tag}): {name} ({n} iterations)")
            try:
                with git.side_environment(side.root):
                    memory[tag][name] = run_memory_pass(
                        name,
                        suites=o.suites,
                        root=side.root,
                        iterations=n,
                        capture=None,
                        timeout=o.timeout,
                        cpu=o.cpu,
                    )
            except MeasurementError as exc:
                failed[name] = f"{name} ({tag}: {exc})"
                break
    if stored and any(memory["BASE"].get(n) is stored.get(n) for n in common):
        notes.append(f"BASE memory reused from {where} (same commit and environment)")
    return memory


def _time_pairs(
    sides: dict[str, Side],
    names: list[str],
    config: budgets.BudgetConfig,
    o: Options,
    failed: dict[str, str],
) -> dict[str, PairRun]:
    """The ABBA pairs of every scenario in ``names``."""
    by_side = {"base": sides["BASE"], "head": sides["HEAD"]}

    def measure(side: str, scenario: str, plan: Plan | None) -> tuple[float, Plan]:
        where = by_side[side]
        with git.side_environment(where.root):
            rounds, used = run_pair_process(
                scenario,
                suites=o.suites,
                root=where.root,
                plan=plan,
                what=f"time pair of {scenario} ({side})",
                timeout=o.timeout,
                cpu=o.cpu,
            )
        return float(STATISTICS[o.statistic](rounds)), used

    runs: dict[str, PairRun] = {}
    for name in names:
        _say(f"time pairs (ABBA): {name}")
        try:
            runs[name] = run_pairs(
                name,
                measure,
                config.for_scenario(name).time,
                pairs=o.pairs,
                max_pairs=o.max_pairs,
                max_time=o.max_time,
                seed=o.seed,
            )
        except MeasurementError as exc:
            failed[name] = f"{name} (time: {exc})"
    return runs


def _run(
    base: Side, head: Side, config: budgets.BudgetConfig, o: Options
) -> tuple[Comparison, list[str]]:
    """Measure both sides and build the comparison; failures become notes, not crashes."""
    sides = {"BASE": base, "HEAD": head}
    infos = {tag: _list(side, tag, o) for tag, side in sides.items()}
    every = {n: i.leak_class for tag in sides for n, i in infos[tag].items()}
    try:
        chosen = matching(o.wanted, every)
    except UnknownScenarioError as exc:
        raise BadInputError(f"{exc}; pick a name from the list or drop --scenario") from exc
    common = sorted(n for n in chosen if n in infos["BASE"] and n in infos["HEAD"])
    notes: list[str] = []
    if lock := git.lock_note(base.root, head.root):
        notes.append(lock)
    failed: dict[str, str] = {}
    """Why each scenario that failed to run on either side did: left out of the comparison."""
    memory: dict[str, dict[str, MemoryResult]] = {tag: {} for tag in sides}
    if not o.time_only:
        memory = _memory_passes(sides, common, infos, o, failed, notes)
    runs: dict[str, PairRun] = {}
    if not o.memory_only:
        runs = _time_pairs(sides, [n for n in common if n not in failed], config, o, failed)
    keep = [n for n in common if n not in failed]
    sides_results = {
        tag: _results(side, {n: infos[tag][n] for n in keep}, memory[tag])
        for tag, side in sides.items()
    }
    comparison = compare(
        sides_results["BASE"],
        sides_results["HEAD"],
        config,
        base_label=base.name,
        head_label=head.name,
    )
    rows = []
    for s in comparison.scenarios:
        run = runs.get(s.name)
        budget = config.for_scenario(s.name)
        metric = time_metric(run, budget, config.default) if run else None
        rows.append(with_time(s, metric))
        if budget.reason:
            notes.append(f"acknowledged budget for {s.name!r}: {budget.reason}")
    rows.sort(key=ScenarioComparison.sort_key)
    notes += [f"failed to run: {f}" for f in failed.values()]
    if runs:
        notes.append(
            f"time: HEAD/BASE {o.statistic} round time in interleaved ABBA process pairs, same "
            "venv; engine: this leakbench, scenarios: each side's suites/ and fixtures/"
        )
    return replace(
        comparison,
        scenarios=tuple(rows),
        new=tuple(sorted(n for n in chosen if n not in infos["BASE"])),
        removed=tuple(sorted(n for n in chosen if n not in infos["HEAD"])),
        notes=(*comparison.notes, *notes),
        time_comparable=not o.memory_only,
    ), list(failed.values())
