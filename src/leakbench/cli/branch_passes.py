"""compare-branches' measurement passes: each one runs a side's scenarios in child processes.

One function per pass, in the order :mod:`leakbench.cli.branch_comparison` calls them: list a
side's scenarios, its memory passes, its instruction passes (started on threads so they
overlap the memory passes), one native probe process per side, then the interleaved ABBA
pairs of the scenarios instructions cannot judge. Each child gets its side's code first on
the path (:func:`side_env`), by argument and never through ``os.environ``, because the
instruction passes start children from other threads. What BASE measured is read from and
written to its cache (:func:`open_base_cache`, ``leakbench.gate.cache``) here, so no pass
repeats a BASE figure that is already known. A pass that fails records why in ``failed`` (the
scenario is left out of the comparison) instead of ending the command.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import click

from leakbench.cli.errors import BadInputError
from leakbench.gate import git
from leakbench.gate.cache import BaseCache, Probe, base_key, key_parts
from leakbench.gate.environment import fingerprint
from leakbench.gate.git import Side
from leakbench.gate.measure import instructions as valgrind
from leakbench.gate.measure.child import (
    PairProcess,
    ScenarioInfo,
    list_scenarios,
    run_instruction_pass,
    run_memory_pass,
    run_pair_process,
)
from leakbench.gate.measure.plan import Plan
from leakbench.gate.measure.spawn import MeasurementError
from leakbench.gate.results import InstructionsResult, MemoryResult, ResultsError, load_results
from leakbench.gate.store import FileStore
from leakbench.gate.verdicts import budgets
from leakbench.gate.verdicts.abba import STATISTICS, PairRun, run_pairs

__all__ = [
    "Measured",
    "Options",
    "finish_instruction_passes",
    "list_side",
    "memory_passes",
    "open_base_cache",
    "probe_both_sides",
    "say",
    "side_env",
    "start_instruction_passes",
    "time_pairs",
]


def say(text: str) -> None:
    """One progress line on stderr, so that stdout carries the report only."""
    click.echo(f"leakbench: {text}", err=True)


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


def side_env(side: Side) -> dict[str, str]:
    """What a child of ``side`` adds to its environment: that side's code first on the path
    (``git.side_pythonpath``). Passed per child, never set in ``os.environ``, because the
    instruction passes start children from other threads."""
    return {"PYTHONPATH": git.side_pythonpath(side.root)}


def list_side(side: Side, tag: str, o: Options) -> dict[str, ScenarioInfo]:
    """The side's scenarios, imported in a child that sees only that side's code."""
    try:
        return list_scenarios(
            suites=o.suites,
            root=side.root,
            what=f"{tag} {side.name}: importing {o.suites}",
            timeout=o.timeout,
            env=side_env(side),
        )
    except MeasurementError as exc:
        raise BadInputError(f"{exc}; its scenarios cannot be compared") from exc


def open_base_cache(base: Side, head: Side, o: Options) -> BaseCache | None:
    """BASE's cache for these options (None with ``--no-cache``)."""
    if not o.cache or o.cache_root is None:
        return None
    tool = valgrind.find_valgrind()
    parts = key_parts(
        base.root,
        base.sha,
        running_root=head.root,
        suites=o.suites,
        valgrind=tool.version if tool else "",
        memory_iterations=o.iterations,
        instruction_iterations=o.instruction_iterations,
        pinned=o.cpu is not None,
    )
    return BaseCache.load(o.cache_root, base_key(parts), parts, base.sha)


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


def memory_passes(
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
            say(f"memory pass ({tag}): {name} ({n} iterations)")
            try:
                got.memory[tag][name] = run_memory_pass(
                    name,
                    suites=o.suites,
                    root=side.root,
                    iterations=n,
                    capture=None,
                    timeout=o.timeout,
                    cpu=o.cpu,
                    env=side_env(side),
                )
            except MeasurementError as exc:
                failed[name] = f"{name} ({tag}: {exc})"
                break
            if tag == "BASE" and cache is not None:
                cache.get(name).memory = got.memory[tag][name]
    if used_stored:
        notes.append(f"BASE memory reused from {where} (same commit and environment)")


def start_instruction_passes(
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
                say(f"instruction pass ({tag}): {name} ({n} iterations under callgrind)")
                return run_instruction_pass(
                    name,
                    suites=o.suites,
                    root=side.root,
                    iterations=n,
                    timeout=o.timeout,
                    module=infos[tag][name].module,
                    env=side_env(side),
                )

            started[(name, tag)] = counter.submit(count)
    return started


def finish_instruction_passes(
    started: dict[tuple[str, str], Future[InstructionsResult]],
    cache: BaseCache | None,
    got: Measured,
) -> None:
    """Wait for the passes :func:`start_instruction_passes` started; keep BASE's figures."""
    for (name, tag), future in started.items():
        counted = future.result()
        got.counted[tag][name] = counted
        if tag == "BASE" and cache is not None and counted.per_iteration is not None:
            cache.get(name).instructions = counted


def _probe(side: Side, name: str, o: Options, plan: Plan | None, what: str) -> PairProcess:
    return run_pair_process(
        name, suites=o.suites, root=side.root, plan=plan, what=what, timeout=o.timeout,
        cpu=o.cpu, env=side_env(side),
    )  # fmt: skip


def probe_both_sides(
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
                say(f"wall-time probe (BASE): {name}")
                base_probe = _probe(sides["BASE"], name, o, None, f"probe of {name} (BASE)")
                if cache is not None:
                    cache.get(name).probe = Probe(
                        base_probe.rounds,
                        base_probe.cpu_rounds,
                        base_probe.plan.iterations,
                        base_probe.plan.rounds,
                    )
            say(f"wall-time probe (HEAD): {name}")
            head_probe = _probe(sides["HEAD"], name, o, base_probe.plan, f"probe of {name} (HEAD)")
        except MeasurementError as exc:
            failed[name] = f"{name} (time: {exc})"
            continue
        got.probes["BASE"][name] = base_probe
        got.probes["HEAD"][name] = head_probe


def time_pairs(
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
        say(f"time pairs (ABBA): {name} ({why})")
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
