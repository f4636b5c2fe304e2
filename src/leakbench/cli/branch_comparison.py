"""compare-branches' run: the passes in their order, then one comparison built from them.

:func:`compare_sides` lists both sides' scenarios, picks the common ones, overlaps the
instruction passes with the memory passes (neither a count nor a memray capture depends on
how busy the machine is, so nothing timed runs yet), then probes wall time and times in ABBA
pairs only what instructions cannot judge (waiting-dominated scenarios, or no counts). The
result is the ordinary :class:`~leakbench.gate.verdicts.records.Comparison` of
``leakbench compare``, with each scenario's wall-time row added and notes saying what was
reused, what failed and how time was judged; a scenario that failed to run on either side is
a note and left out, never a crash.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime

from leakbench.cli.branch_passes import (
    Measured,
    Options,
    finish_instruction_passes,
    list_side,
    memory_passes,
    open_base_cache,
    probe_both_sides,
    start_instruction_passes,
    time_pairs,
)
from leakbench.cli.errors import BadInputError
from leakbench.gate import git
from leakbench.gate.cache import BaseCache
from leakbench.gate.environment import fingerprint
from leakbench.gate.git import Side
from leakbench.gate.measure import instructions as valgrind
from leakbench.gate.measure.child import PairProcess, ScenarioInfo
from leakbench.gate.measure.runner import COUNT_WORKERS
from leakbench.gate.measure.spawn import kill_running
from leakbench.gate.results import InstructionsResult, MemoryResult, Results, ScenarioResult
from leakbench.gate.scenarios import UnknownScenarioError, matching
from leakbench.gate.verdicts import budgets
from leakbench.gate.verdicts.abba import (
    STATISTICS,
    PairRun,
    cpu_share,
    probe_metric,
    time_metric,
    waiting,
    with_time,
)
from leakbench.gate.verdicts.records import Comparison, MetricComparison, ScenarioComparison
from leakbench.gate.verdicts.rules import compare

__all__ = ["compare_sides"]


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


def compare_sides(
    base: Side, head: Side, config: budgets.BudgetConfig, o: Options
) -> tuple[Comparison, list[str]]:
    """Measure both sides and build the comparison; failures become notes, not crashes."""
    sides = {"BASE": base, "HEAD": head}
    infos = {tag: list_side(side, tag, o) for tag, side in sides.items()}
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
    cache = open_base_cache(base, head, o)
    got = Measured()
    counting = o.instructions and not o.memory_only
    if counting and valgrind.find_valgrind() is None:
        notes.append(f"{valgrind.missing()}: time judged in ABBA pairs for every scenario")
    # Nothing timed runs yet: the instruction passes (2 at a time) overlap the memory passes,
    # since neither a count nor a memray capture depends on how busy the machine is.
    with ThreadPoolExecutor(COUNT_WORKERS, thread_name_prefix="leakbench-count") as counter:
        try:
            started = (
                start_instruction_passes(counter, sides, common, infos, o, cache, got)
                if counting
                else {}
            )
            if not o.time_only:
                memory_passes(sides, common, infos, o, failed, notes, cache, got)
            finish_instruction_passes(started, cache, got)
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
            probe_both_sides(sides, counted, o, failed, cache, got)
        why_pairs = {
            n: _needs_pairs(n, got) if o.instructions else "--no-instructions"
            for n in common
            if n not in failed
        }
        why_pairs = {n: why for n, why in why_pairs.items() if why}
        runs = time_pairs(sides, why_pairs, config, o, failed, got)
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
