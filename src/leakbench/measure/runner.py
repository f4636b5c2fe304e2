"""Measure a list of scenarios (memory pass, then time pass, each in a fresh process).

``leakbench bench`` drives this with a progress display; ``bench/repeatability.py`` and the
tests call it directly. The passes of one scenario run one after another, never at the same
time as anything else this module starts, so the time pass is not disturbed by our own work.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from leakbench.environment import fingerprint
from leakbench.measure.timing import DEFAULT_BUDGET, run_time_pass
from leakbench.measure.worker import DEFAULT_WARMUP, run_memory_pass
from leakbench.results import MemoryResult, Results, ScenarioResult, TimeResult
from leakbench.scenarios import Scenario

CAPTURES_DIR = Path(".leakbench") / "captures"

Progress = Callable[[Scenario, str], None]
"""Called with (scenario, "memory" | "time" | "done") as the passes start and end."""


@dataclass(frozen=True)
class BenchOptions:
    """What ``leakbench bench`` was asked to do."""

    root: Path
    suites: str = "suites"
    iterations: int | None = None
    """Override every scenario's iteration count (None: the scenario's or the default)."""
    memory: bool = True
    time: bool = True
    time_budget: float = DEFAULT_BUDGET
    warmup: int = DEFAULT_WARMUP
    keep_captures: bool = True
    timeout: float = 300.0


def iterations_for(scenario: Scenario, override: int | None = None) -> int:
    """The tracked iteration count: ``override``, else ``scenario.bench_iterations``."""
    return override if override is not None else scenario.bench_iterations


LEAKY_TIME_ITERATIONS = 200
CLEAN_TIME_ITERATIONS = 2000


def time_iterations_for(scenario: Scenario) -> int:
    """Cap on the time pass's iterations: the scenario's own, else by variant (see Scenario)."""
    if scenario.time_max_iterations is not None:
        return scenario.time_max_iterations
    return LEAKY_TIME_ITERATIONS if scenario.variant == "leaky" else CLEAN_TIME_ITERATIONS


def capture_path(root: Path, scenario: Scenario) -> Path:
    """``.leakbench/captures/<scenario>.bin`` (the latest run's capture per scenario)."""
    return root / CAPTURES_DIR / f"{scenario.name}.bin"


def measure_scenario(
    scenario: Scenario, options: BenchOptions, progress: Progress | None = None
) -> ScenarioResult:
    """Both passes (as asked) for one scenario."""
    memory: MemoryResult | None = None
    timing: TimeResult | None = None
    if options.memory:
        if progress:
            progress(scenario, "memory")
        memory = run_memory_pass(
            scenario.name,
            suites=options.suites,
            root=options.root,
            iterations=iterations_for(scenario, options.iterations),
            warmup=options.warmup,
            capture=capture_path(options.root, scenario) if options.keep_captures else None,
            timeout=options.timeout,
        )
    if options.time:
        if progress:
            progress(scenario, "time")
        timing = run_time_pass(
            scenario.name,
            suites=options.suites,
            root=options.root,
            budget=options.time_budget,
            max_iterations=time_iterations_for(scenario),
            timeout=options.timeout,
        )
    if progress:
        progress(scenario, "done")
    return ScenarioResult(
        leak_class=scenario.leak_class,
        variant=scenario.variant,
        leaks_memory=scenario.leaks_memory,
        memory=memory,
        time=timing,
    )


def run(
    scenarios: Sequence[Scenario], options: BenchOptions, progress: Progress | None = None
) -> Results:
    """Measure every scenario and return one :class:`Results` document (not yet written)."""
    created = datetime.now(UTC).isoformat(timespec="seconds")
    environment = fingerprint(options.root)
    measured = {s.name: measure_scenario(s, options, progress) for s in scenarios}
    return Results(created=created, environment=environment, scenarios=measured)
