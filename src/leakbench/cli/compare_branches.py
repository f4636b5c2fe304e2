"""``leakbench compare-branches BASE [HEAD]``: is this branch fatter or slower than BASE?

Memory is deterministic under memray, so each side gets the ordinary memory pass and
``leakbench.gate.verdicts.rules`` judges it with the usual budget and floor. Time is judged on
instructions per iteration (the instruction pass under Valgrind, one process per side), which
do not depend on the machine's load either. Each side also gets one native probe process
(``pair-time`` mode) whose wall time is shown and whose CPU share tells computing from
waiting: only scenarios whose time is mostly waiting (sleep, I/O, locks, child processes),
which instructions do not see, and scenarios without instruction counts (no Valgrind) are
timed side by side in interleaved ABBA process pairs (``leakbench.gate.verdicts.abba``) and
judged on a bootstrap interval, as before.

What BASE measured (memory, instructions, its probe) is cached under ``.leakbench/cache/``
(``leakbench.gate.cache``), keyed by BASE's code trees, the engine, the environment and the
options, so comparing against the same BASE again measures only HEAD (and the ABBA pairs,
which need both sides at once). BASE memory is also reused from a stored results document
of exactly BASE's commit and environment.

Every process (listing a side's scenarios, a memory pass, an instruction pass, a probe, one
half of a pair) is the one measurement child, ``leakbench.gate.measure.child``, started with
that side's code first on the path (``leakbench.gate.git.side_pythonpath``, passed to each
child, never through ``os.environ``: instruction passes start from other threads). The
result is an ordinary :class:`~leakbench.gate.verdicts.records.Comparison`, so the reports
and exit codes are those of ``leakbench compare``: 0 within budget (inconclusive only warns), 1 on a
regression, 2 on bad input or a scenario that failed to run. Progress goes to stderr so that
``--format markdown >> $GITHUB_STEP_SUMMARY`` captures the report only.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import click

from leakbench.cli.errors import BadInputError, Interrupted, load_budgets
from leakbench.cli.options import (
    config_option,
    format_option,
    render,
    scenario_option,
    verbose_option,
)
from leakbench.cli.params import POSITIVE_SECONDS, SUITES_HELP, suites_name
from leakbench.gate import git
from leakbench.gate.cache import BaseCache, Probe, base_key, engine_hash
from leakbench.gate.environment import fingerprint
from leakbench.gate.git import GitError, Side
from leakbench.gate.measure import instructions as valgrind
from leakbench.gate.measure.child import (
    DEFAULT_TIMEOUT,
    PairProcess,
    ScenarioInfo,
    list_scenarios,
    run_instruction_pass,
    run_memory_pass,
    run_pair_process,
)
from leakbench.gate.measure.plan import Plan
from leakbench.gate.measure.runner import COUNT_WORKERS
from leakbench.gate.measure.spawn import MeasurementError, default_cpu, kill_running
from leakbench.gate.results import (
    InstructionsResult,
    MemoryResult,
    Results,
    ResultsError,
    ScenarioResult,
    load_results,
)
from leakbench.gate.scenarios import UnknownScenarioError, matching
from leakbench.gate.store import FileStore
from leakbench.gate.verdicts import budgets
from leakbench.gate.verdicts.abba import (
    DEFAULT_MAX_PAIRS,
    DEFAULT_MAX_TIME,
    DEFAULT_PAIRS,
    STATISTICS,
    PairRun,
    cpu_share,
    probe_metric,
    run_pairs,
    time_metric,
    waiting,
    with_time,
)
from leakbench.gate.verdicts.bootstrap import SEED
from leakbench.gate.verdicts.records import Comparison, MetricComparison, ScenarioComparison
from leakbench.gate.verdicts.rules import compare

FIXTURES = "fixtures"
"""The resources package a side contributes besides its suites (see docs/ci.md)."""


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
    side: Side,
    infos: dict[str, ScenarioInfo],
    memory: dict[str, MemoryResult],
    counted: dict[str, InstructionsResult],
) -> Results:
    scenarios = {
        n: ScenarioResult(
            i.leak_class, i.variant, i.leaks_memory, memory.get(n), instructions=counted.get(n)
        )
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
    help="ABBA process pairs per waiting-dominated scenario before the first decision.",
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
    type=POSITIVE_SECONDS,
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
@click.option(
    "--instructions/--no-instructions",
    default=True,
    help="Judge time on instructions per iteration under Valgrind (default); "
    "--no-instructions times every scenario in ABBA pairs.",
)
@click.option(
    "--instruction-iterations",
    type=click.IntRange(1),
    help="Iterations per instruction pass (default: each scenario's own, else 20).",
)
@click.option(
    "--cache/--no-cache",
    default=True,
    help="Reuse what an earlier run measured of the same BASE (.leakbench/cache/; default).",
)
@click.option("--memory-only", is_flag=True, help="Skip the time passes.")
@click.option("--time-only", is_flag=True, help="Skip the memory passes.")
@click.option("--suites", default=None, callback=suites_name, help=SUITES_HELP)
@config_option
@click.option("--pin/--no-pin", default=True, help="Pin wall-time measurements to one CPU.")
@click.option(
    "--timeout",
    type=POSITIVE_SECONDS,
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
    instructions: bool,
    instruction_iterations: int | None,
    cache: bool,
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
    log = git.WorktreeLog()
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
                head_side = Side(
                    head, stack.enter_context(git.temporary_worktree(root, sha, log)), sha
                )
            base_side = Side(
                base, stack.enter_context(git.temporary_worktree(root, base_sha, log)), base_sha
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
                instructions=instructions,
                instruction_iterations=instruction_iterations,
                cache=cache,
                cache_root=root,
            )
            comparison, failed = _run(base_side, head_side, budget_config, opts)
    except GitError as exc:
        raise BadInputError(str(exc)) from exc
    except KeyboardInterrupt:
        raise Interrupted(log.summary()) from None
    if log.left:
        _say(log.summary())
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
    instructions: bool = True
    instruction_iterations: int | None = None
    cache: bool = True
    cache_root: Path | None = None
    """Where ``.leakbench/cache/`` lives (the checkout the command runs in)."""


@dataclass
class Measured:
    """Everything measured of the common scenarios, per side (``BASE`` / ``HEAD``)."""

    memory: dict[str, dict[str, MemoryResult]] = field(
        default_factory=lambda: {"BASE": {}, "HEAD": {}}
    )
    counted: dict[str, dict[str, InstructionsResult]] = field(
        default_factory=lambda: {"BASE": {}, "HEAD": {}}
    )
    probes: dict[str, dict[str, PairProcess]] = field(
        default_factory=lambda: {"BASE": {}, "HEAD": {}}
    )
    reused: dict[str, set[str]] = field(default_factory=dict)
    """What of BASE came from the cache: part (memory, instructions, probe) -> scenarios."""

    def reuse(self, part: str, name: str) -> None:
        self.reused.setdefault(part, set()).add(name)


def _side_env(side: Side) -> dict[str, str]:
    """What a child of ``side`` adds to its environment: that side's code first on the path
    (``git.side_pythonpath``). Passed per child, never set in ``os.environ``, because the
    instruction passes start children from other threads."""
    return {"PYTHONPATH": git.side_pythonpath(side.root)}


def _list(side: Side, tag: str, o: Options) -> dict[str, ScenarioInfo]:
    """The side's scenarios, imported in a child that sees only that side's code."""
    try:
        return list_scenarios(
            suites=o.suites,
            root=side.root,
            what=f"{tag} {side.name}: importing {o.suites}",
            timeout=o.timeout,
            env=_side_env(side),
        )
    except MeasurementError as exc:
        raise BadInputError(f"{exc}; its scenarios cannot be compared") from exc


def _cache(base: Side, head: Side, o: Options) -> BaseCache | None:
    """BASE's cache for these options (None with ``--no-cache``)."""
    if not o.cache or o.cache_root is None:
        return None
    env = fingerprint(head.root)
    tool = valgrind.find_valgrind()
    paths = [o.suites.replace(".", "/"), FIXTURES]
    if str(base.root / "src") in git.side_pythonpath(base.root).split(os.pathsep):
        paths.append("src")
    parts = {
        "trees": {p: git.tree_id(base.root, base.sha, p) for p in paths},
        "lock": git.lock_hash(base.root),
        "engine": engine_hash(),
        "python": f"{env.implementation} {env.python_version}",
        "machine": f"{env.platform} {env.machine} {env.cpu_model} x{env.cpu_count}",
        "venv_lock": env.lock_hash,
        "valgrind": tool.version if tool else "",
        "memory_iterations": o.iterations,
        "instruction_iterations": o.instruction_iterations,
        "pinned": o.cpu is not None,
    }
    return BaseCache.load(o.cache_root, base_key(parts), parts, base.sha)


def _memory_passes(
    sides: dict[str, Side],
    common: list[str],
    infos: dict[str, dict[str, ScenarioInfo]],
    o: Options,
    failed: dict[str, str],
    notes: list[str],
    cache: BaseCache | None,
    got: Measured,
) -> None:
    """Each side's memory pass of every common scenario, BASE's reused when it was kept."""
    key = fingerprint(sides["HEAD"].root).key
    stored, where = _stored_memory(sides["BASE"], sides["HEAD"].root, key)
    used_stored = False
    for name in common:
        n = o.iterations or infos["HEAD"][name].bench_iterations
        for tag, side in sides.items():
            if tag == "BASE":
                kept = cache.get(name).memory if cache else None
                if kept is not None and kept.iterations == n:
                    got.memory[tag][name] = kept
                    got.reuse("memory", name)
                    continue
                if name in stored and stored[name].iterations == n:
                    got.memory[tag][name] = stored[name]
                    used_stored = True
                    continue
            _say(f"memory pass ({tag}): {name} ({n} iterations)")
            try:
                got.memory[tag][name] = run_memory_pass(
                    name,
                    suites=o.suites,
                    root=side.root,
                    iterations=n,
                    capture=None,
                    timeout=o.timeout,
                    cpu=o.cpu,
                    env=_side_env(side),
                )
            except MeasurementError as exc:
                failed[name] = f"{name} ({tag}: {exc})"
                break
            if tag == "BASE" and cache is not None:
                cache.get(name).memory = got.memory[tag][name]
    if used_stored:
        notes.append(f"BASE memory reused from {where} (same commit and environment)")


def _count_later(
    counter: ThreadPoolExecutor,
    sides: dict[str, Side],
    names: list[str],
    infos: dict[str, dict[str, ScenarioInfo]],
    o: Options,
    cache: BaseCache | None,
    got: Measured,
) -> dict[tuple[str, str], Future[InstructionsResult]]:
    """Start each side's instruction pass on ``counter``'s threads (HEAD's N on both sides,
    so the averages compare); BASE's cached counts are used at once. Each child gets its
    side's ``PYTHONPATH`` by argument: threads must not share ``os.environ``."""
    started: dict[tuple[str, str], Future[InstructionsResult]] = {}
    for name in names:
        n = o.instruction_iterations or infos["HEAD"][name].instruction_iterations
        for tag, side in sides.items():
            kept = cache.get(name).instructions if cache and tag == "BASE" else None
            if kept is not None and kept.iterations == n:
                got.counted[tag][name] = kept
                got.reuse("instructions", name)
                continue

            def count(
                name: str = name, tag: str = tag, side: Side = side, n: int = n
            ) -> InstructionsResult:
                _say(f"instruction pass ({tag}): {name} ({n} iterations under callgrind)")
                return run_instruction_pass(
                    name,
                    suites=o.suites,
                    root=side.root,
                    iterations=n,
                    timeout=o.timeout,
                    module=infos[tag][name].module,
                    env=_side_env(side),
                )

            started[(name, tag)] = counter.submit(count)
    return started


def _counted(
    started: dict[tuple[str, str], Future[InstructionsResult]],
    cache: BaseCache | None,
    got: Measured,
) -> None:
    """Wait for the instruction passes :func:`_count_later` started; keep BASE's figures."""
    for (name, tag), future in started.items():
        counted = future.result()
        got.counted[tag][name] = counted
        if tag == "BASE" and cache is not None and counted.per_iteration is not None:
            cache.get(name).instructions = counted


def _probe(side: Side, name: str, o: Options, plan: Plan | None, what: str) -> PairProcess:
    return run_pair_process(
        name, suites=o.suites, root=side.root, plan=plan, what=what, timeout=o.timeout,
        cpu=o.cpu, env=_side_env(side),
    )  # fmt: skip


def _probes(
    sides: dict[str, Side],
    names: list[str],
    o: Options,
    failed: dict[str, str],
    cache: BaseCache | None,
    got: Measured,
) -> None:
    """One native probe process per side (BASE calibrates, HEAD repeats its plan)."""
    for name in names:
        kept = cache.get(name).probe if cache else None
        try:
            if kept is not None:
                base_probe = PairProcess(
                    kept.rounds, Plan(kept.iterations, kept.rounds_planned), kept.cpu_rounds
                )
                got.reuse("probe", name)
            else:
                _say(f"wall-time probe (BASE): {name}")
                base_probe = _probe(sides["BASE"], name, o, None, f"probe of {name} (BASE)")
                if cache is not None:
                    cache.get(name).probe = Probe(
                        base_probe.rounds,
                        base_probe.cpu_rounds,
                        base_probe.plan.iterations,
                        base_probe.plan.rounds,
                    )
            _say(f"wall-time probe (HEAD): {name}")
            head_probe = _probe(sides["HEAD"], name, o, base_probe.plan, f"probe of {name} (HEAD)")
        except MeasurementError as exc:
            failed[name] = f"{name} (time: {exc})"
            continue
        got.probes["BASE"][name] = base_probe
        got.probes["HEAD"][name] = head_probe


def _share(p: PairProcess) -> str:
    share = cpu_share(p.rounds, p.cpu_rounds)
    return "unknown" if share is None else f"{share:.0%}"


def _needs_pairs(name: str, got: Measured) -> str:
    """Why ``name``'s time must be judged in ABBA pairs ("" when instructions judge it)."""
    counts = [got.counted[tag].get(name) for tag in ("BASE", "HEAD")]
    if any(c is None or c.per_iteration is None for c in counts):
        return "no instruction counts"
    for tag in ("BASE", "HEAD"):
        p = got.probes[tag].get(name)
        if p is not None and waiting(p.rounds, p.cpu_rounds):
            return f"mostly waiting ({tag} spent {_share(p)} of its wall time on the CPU)"
    return ""


def _time_pairs(
    sides: dict[str, Side],
    names: dict[str, str],
    config: budgets.BudgetConfig,
    o: Options,
    failed: dict[str, str],
    got: Measured,
) -> dict[str, PairRun]:
    """The ABBA pairs of every scenario in ``names`` (name -> why it needs pairs)."""
    by_side = {"base": sides["BASE"], "head": sides["HEAD"]}

    def measure(side: str, scenario: str, plan: Plan | None) -> tuple[float, Plan]:
        done = _probe(by_side[side], scenario, o, plan, f"time pair of {scenario} ({side})")
        return float(STATISTICS[o.statistic](done.rounds)), done.plan

    runs: dict[str, PairRun] = {}
    for name, why in names.items():
        _say(f"time pairs (ABBA): {name} ({why})")
        probe = got.probes["BASE"].get(name)
        try:
            runs[name] = run_pairs(
                name,
                measure,
                config.for_scenario(name).time,
                pairs=o.pairs,
                max_pairs=o.max_pairs,
                max_time=o.max_time,
                seed=o.seed,
                plan=probe.plan if probe is not None else None,
            )
        except MeasurementError as exc:
            failed[name] = f"{name} (time: {exc})"
    return runs


def _time_row(
    name: str,
    got: Measured,
    runs: dict[str, PairRun],
    why_pairs: dict[str, str],
    config: budgets.BudgetConfig,
    statistic: str,
) -> MetricComparison | None:
    """The scenario's wall-time row: the ABBA decision (gating), else the probes (shown)."""
    budget = config.for_scenario(name)
    run = runs.get(name)
    if run is not None:
        metric = time_metric(run, budget, config.default)
        return replace(metric, note=f"{why_pairs[name]}: {metric.note}")
    base, head = got.probes["BASE"].get(name), got.probes["HEAD"].get(name)
    if base is None or head is None:
        return None
    note = (
        f"one process per side ({statistic}), CPU {_share(base)} / {_share(head)} of wall "
        "time: not gating, instructions decide"
    )
    return probe_metric(base.rounds, head.rounds, STATISTICS[statistic], note)


def _reused_note(cache: BaseCache, got: Measured) -> str:
    parts = [f"{part} of {len(names)}" for part, names in sorted(got.reused.items())]
    return (
        f"BASE reused from {cache.path.name} in .leakbench/cache/ ({', '.join(parts)} "
        "scenarios; same code, engine and environment; --no-cache measures it again)"
    )


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
    cache = _cache(base, head, o)
    got = Measured()
    counting = o.instructions and not o.memory_only
    if counting and valgrind.find_valgrind() is None:
        notes.append(f"{valgrind.missing()}: time judged in ABBA pairs for every scenario")
    # Nothing timed runs yet: the instruction passes (2 at a time) overlap the memory passes,
    # since neither a count nor a memray capture depends on how busy the machine is.
    with ThreadPoolExecutor(COUNT_WORKERS, thread_name_prefix="leakbench-count") as counter:
        try:
            started = _count_later(counter, sides, common, infos, o, cache, got) if counting else {}
            if not o.time_only:
                _memory_passes(sides, common, infos, o, failed, notes, cache, got)
            _counted(started, cache, got)
        except BaseException:
            counter.shutdown(wait=False, cancel_futures=True)
            kill_running()
            raise
    runs: dict[str, PairRun] = {}
    why_pairs: dict[str, str] = {}
    if not o.memory_only:
        timed = [n for n in common if n not in failed]
        if o.instructions:
            counted = [n for n in timed if not _needs_pairs(n, got)]
            _probes(sides, counted, o, failed, cache, got)
        why_pairs = {
            n: _needs_pairs(n, got) if o.instructions else "--no-instructions"
            for n in common
            if n not in failed
        }
        why_pairs = {n: why for n, why in why_pairs.items() if why}
        runs = _time_pairs(sides, why_pairs, config, o, failed, got)
    if cache is not None and (got.memory["BASE"] or got.counted["BASE"] or got.probes["BASE"]):
        cache.save()
        if got.reused:
            notes.append(_reused_note(cache, got))
    keep = [n for n in common if n not in failed]
    sides_results = {
        tag: _results(side, {n: infos[tag][n] for n in keep}, got.memory[tag], got.counted[tag])
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
        rows.append(with_time(s, _time_row(s.name, got, runs, why_pairs, config, o.statistic)))
        budget = config.for_scenario(s.name)
        if budget.reason:
            notes.append(f"acknowledged budget for {s.name!r}: {budget.reason}")
    rows.sort(key=ScenarioComparison.sort_key)
    notes += [f"failed to run: {f}" for f in failed.values()]
    if runs:
        notes.append(
            f"time pairs: HEAD/BASE {o.statistic} round time in interleaved ABBA process pairs, "
            "same venv; engine: this leakbench, scenarios: each side's suites/ and fixtures/"
        )
    return replace(
        comparison,
        scenarios=tuple(rows),
        new=tuple(sorted(n for n in chosen if n not in infos["BASE"])),
        removed=tuple(sorted(n for n in chosen if n not in infos["HEAD"])),
        notes=(*comparison.notes, *notes),
        time_comparable=not o.memory_only,
    ), list(failed.values())
