"""Measure a list of scenarios: every memory pass, then the time passes, each in a fresh process.

``leakbench bench`` drives this with a progress display. Nothing this module starts runs at
the same time as anything else it starts, so our own work never disturbs a time pass.

Why the time pass of a scenario is split over several processes (``time_processes``, default
3) run in turns across all scenarios (A1 B1 C1 ... A2 B2 C2 ...): on a shared machine a
busy phase lasts seconds to minutes. Measured here (two runs of the suites back to back, one
process per scenario), the median reference-normalised time of scheduler- and I/O-bound
scenarios (thread start/join, chromadb's sqlite) moved by 50-400% between runs because all
of a scenario's rounds fell into one phase. Spread over three moments, one bad phase no longer
owns the median, and the spread it adds shows up in the rounds (so in a comparison's
confidence interval) instead of as a shifted median. The first process calibrates; the others
repeat its plan (``plan.plan_of``) so that all rounds are alike and can be pooled.

Every pass runs in the one measurement child (``leakbench.gate.measure.child``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from math import ceil
from pathlib import Path

from leakbench.gate.environment import fingerprint
from leakbench.gate.measure.child import (
    DEFAULT_TIMEOUT,
    DEFAULT_WARMUP,
    run_memory_pass,
    run_time_pass,
)
from leakbench.gate.measure.plan import DEFAULT_BUDGET, plan_of, time_iterations_for
from leakbench.gate.measure.timing import pool
from leakbench.gate.results import MemoryResult, Results, ScenarioResult, TimeResult
from leakbench.gate.scenarios import Scenario

CAPTURES_DIR = Path(".leakbench") / "captures"
DEFAULT_TIME_PROCESSES = 3

Progress = Callable[[str], None]
"""Called with a one-line description as each step (one child process) starts."""


@dataclass(frozen=True)
class BenchOptions:
    """What ``leakbench bench`` was asked to do."""

    root: Path
    suites: str = "suites"
    iterations: int | None = None
    """Override every scenario's memory-pass iteration count (None: the scenario's)."""
    memory: bool = True
    time: bool = True
    time_budget: float = DEFAULT_BUDGET
    """Seconds of timed scenario rounds per scenario, shared by its time processes."""
    time_processes: int = DEFAULT_TIME_PROCESSES
    warmup: int = DEFAULT_WARMUP
    keep_captures: bool = True
    timeout: float = DEFAULT_TIMEOUT
    cpu: int | None = None
    """Pin every child to this CPU (``spawn.default_cpu()`` in ``leakbench bench``)."""


def iterations_for(scenario: Scenario, override: int | None = None) -> int:
    """The tracked iteration count: ``override``, else ``scenario.bench_iterations``."""
    return override if override is not None else scenario.bench_iterations


def capture_path(root: Path, scenario: Scenario) -> Path:
    """``.leakbench/captures/<scenario>.bin`` (the latest run's capture per scenario)."""
    return root / CAPTURES_DIR / f"{scenario.name}.bin"


def steps(scenarios: Sequence[Scenario], options: BenchOptions) -> int:
    """How many child processes :func:`run` starts (for a progress bar)."""
    per_scenario = int(options.memory) + (options.time_processes if options.time else 0)
    return len(scenarios) * per_scenario


def _memory(scenario: Scenario, options: BenchOptions) -> MemoryResult:
    return run_memory_pass(
        scenario.name,
        suites=options.suites,
        root=options.root,
        iterations=iterations_for(scenario, options.iterations),
        warmup=options.warmup,
        capture=capture_path(options.root, scenario) if options.keep_captures else None,
        timeout=options.timeout,
        cpu=options.cpu,
    )


def _time(scenario: Scenario, options: BenchOptions, earlier: list[TimeResult]) -> TimeResult:
    share = options.time_processes
    return run_time_pass(
        scenario.name,
        suites=options.suites,
        root=options.root,
        budget=options.time_budget / share,
        max_iterations=max(1, ceil(time_iterations_for(scenario) / share)),
        plan=plan_of(earlier[0]) if earlier else None,
        timeout=options.timeout,
        cpu=options.cpu,
    )


def run(
    scenarios: Sequence[Scenario], options: BenchOptions, progress: Progress | None = None
) -> Results:
    """Measure every scenario and return one :class:`Results` document (not yet written)."""
    say = progress or (lambda _: None)
    created = datetime.now(UTC).isoformat(timespec="seconds")
    environment = fingerprint(options.root)
    memory: dict[str, MemoryResult] = {}
    if options.memory:
        for s in scenarios:
            say(f"memory pass: {s.name} ({iterations_for(s, options.iterations)} iterations)")
            memory[s.name] = _memory(s, options)
    parts: dict[str, list[TimeResult]] = {s.name: [] for s in scenarios}
    if options.time:
        for turn in range(1, options.time_processes + 1):
            for s in scenarios:
                say(f"time pass {turn}/{options.time_processes}: {s.name} (pytest-benchmark)")
                parts[s.name].append(_time(s, options, parts[s.name]))
    measured = {
        s.name: ScenarioResult(
            leak_class=s.leak_class,
            variant=s.variant,
            leaks_memory=s.leaks_memory,
            memory=memory.get(s.name),
            time=replace(pool(parts[s.name]), cpu=options.cpu) if parts[s.name] else None,
        )
        for s in scenarios
    }
    return Results(created=created, environment=environment, scenarios=measured)
