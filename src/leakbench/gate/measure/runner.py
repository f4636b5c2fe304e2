"""Measure a list of scenarios: every memory pass, every instruction pass, then the time
passes, each in a fresh process.

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

The instruction passes (one Valgrind process per scenario, ``leakbench.gate.measure.instructions``)
run on :data:`COUNT_WORKERS` other threads *while* the memory passes run, and all of them end
before the first time pass starts: neither a count nor a memray capture depends on how fast
the machine is, so overlapping them saves minutes (~3 min of Valgrind for the suites here),
while a timed round never shares the machine with our own work. An instruction
pass that cannot count (Valgrind missing, crashed, killed) records why instead of a figure; it
never stops the run.

Every pass runs in the one measurement child (``leakbench.gate.measure.child``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from math import ceil
from pathlib import Path

from leakbench._util.safe_names import safe_file_name
from leakbench._util.signals import deferred_signals
from leakbench.gate.environment import fingerprint
from leakbench.gate.measure.child import (
    DEFAULT_TIMEOUT,
    DEFAULT_WARMUP,
    run_instruction_pass,
    run_memory_pass,
    run_time_pass,
)
from leakbench.gate.measure.plan import DEFAULT_BUDGET, plan_of, time_iterations_for
from leakbench.gate.measure.spawn import kill_running
from leakbench.gate.measure.timing import pool
from leakbench.gate.results import (
    InstructionsResult,
    MemoryResult,
    Results,
    ScenarioResult,
    TimeResult,
)
from leakbench.gate.scenarios import Scenario, instruction_iterations_for, module_of

CAPTURES_DIR = Path(".leakbench") / "captures"
DEFAULT_TIME_PROCESSES = 3
COUNT_WORKERS = 2
"""Instruction passes at a time, beside the memory passes (nothing is timed meanwhile)."""

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
    instructions: bool = True
    """Run the instruction pass (under Valgrind; a figure-less result when it is missing)."""
    instruction_iterations: int | None = None
    """Override every scenario's instruction-pass N (None: the scenario's)."""
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
    """``.leakbench/captures/<safe name>.bin``: the latest complete run's capture of the
    scenario (``leakbench._util.safe_names``: a name is never a path)."""
    return root / CAPTURES_DIR / safe_file_name(scenario.name, ".bin")


@contextlib.contextmanager
def staged_captures(root: Path, created: str) -> Iterator[Path]:
    """A folder of this run's own (``.leakbench/captures/.run-<time>-<pid>-XXXX``) that the
    memory passes write their captures into; removed however the block ends.

    Why: two runs of one scenario at once must never share a capture file (memray maps it;
    one run truncating the other's file killed that child with SIGBUS, ``exited with -7``),
    and an interrupted run must leave the previous run's captures alone, since the latest
    results still point at them. :func:`publish` moves the captures into place when the run
    is complete. The name says which run a folder left by a power cut belongs to; signals
    are held while it is removed, so a second Ctrl-C cannot leave it half-deleted.
    """
    folder = root / CAPTURES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    stamp = created.replace(":", "").replace("-", "")[:15]
    staging = Path(tempfile.mkdtemp(prefix=f".run-{stamp}-{os.getpid()}-", dir=folder))
    try:
        yield staging
    finally:
        with deferred_signals():
            shutil.rmtree(staging, ignore_errors=True)


def publish(memory: dict[str, MemoryResult], root: Path) -> dict[str, MemoryResult]:
    """Move each staged capture to its :func:`capture_path` (``os.replace``: atomic, same
    file system) and point the result at it; signals are held, so the run's captures are
    published all or, with the results unwritten, never read."""
    out: dict[str, MemoryResult] = {}
    with deferred_signals():
        for name, result in memory.items():
            if result.capture is not None:
                final = root / CAPTURES_DIR / safe_file_name(name, ".bin")
                os.replace(result.capture, final)
                result = replace(result, capture=str(final))
            out[name] = result
    return out


def steps(scenarios: Sequence[Scenario], options: BenchOptions) -> int:
    """How many child processes :func:`run` starts (for a progress bar)."""
    per_scenario = (
        int(options.memory)
        + int(options.instructions)
        + (options.time_processes if options.time else 0)
    )
    return len(scenarios) * per_scenario


def _memory(scenario: Scenario, options: BenchOptions, staging: Path) -> MemoryResult:
    staged = staging / safe_file_name(scenario.name, ".bin")
    return run_memory_pass(
        scenario.name,
        suites=options.suites,
        root=options.root,
        iterations=iterations_for(scenario, options.iterations),
        warmup=options.warmup,
        capture=staged if options.keep_captures else None,
        timeout=options.timeout,
        cpu=options.cpu,
    )


def _instructions(scenario: Scenario, options: BenchOptions) -> InstructionsResult:
    return run_instruction_pass(
        scenario.name,
        suites=options.suites,
        root=options.root,
        iterations=instruction_iterations_for(scenario, options.instruction_iterations),
        warmup=options.warmup,
        timeout=options.timeout,
        module=module_of(scenario),
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
    lock = threading.Lock()

    def say(line: str) -> None:
        if progress is not None:
            with lock:  # the instruction passes report from their own thread
                progress(line)

    created = datetime.now(UTC).isoformat(timespec="seconds")
    environment = fingerprint(options.root, options.suites)  # untracked scenarios: dirty

    def count(s: Scenario) -> InstructionsResult:
        n = instruction_iterations_for(s, options.instruction_iterations)
        say(f"instruction pass: {s.name} ({n} iterations under callgrind)")
        return _instructions(s, options)

    memory: dict[str, MemoryResult] = {}
    counting: dict[str, Future[InstructionsResult]] = {}
    staging_needed = options.memory and options.keep_captures
    with contextlib.ExitStack() as stack:
        staging = (
            stack.enter_context(staged_captures(options.root, created))
            if staging_needed
            else options.root / CAPTURES_DIR
        )
        with ThreadPoolExecutor(COUNT_WORKERS, thread_name_prefix="leakbench-count") as counter:
            try:
                if options.instructions:
                    counting = {s.name: counter.submit(count, s) for s in scenarios}
                if options.memory:
                    for s in scenarios:
                        n = iterations_for(s, options.iterations)
                        say(f"memory pass: {s.name} ({n} iterations)")
                        memory[s.name] = _memory(s, options, staging)
                counted = {name: future.result() for name, future in counting.items()}
            except BaseException:  # Ctrl-C or a failed memory pass: stop counting now
                counter.shutdown(wait=False, cancel_futures=True)
                kill_running()  # the Valgrind child of the pass running on the other thread
                raise
        parts: dict[str, list[TimeResult]] = {s.name: [] for s in scenarios}
        if options.time:
            for turn in range(1, options.time_processes + 1):
                for s in scenarios:
                    say(f"time pass {turn}/{options.time_processes}: {s.name} (pytest-benchmark)")
                    parts[s.name].append(_time(s, options, parts[s.name]))
        if staging_needed:
            memory = publish(memory, options.root)
    measured = {
        s.name: ScenarioResult(
            leak_class=s.leak_class,
            variant=s.variant,
            leaks_memory=s.leaks_memory,
            memory=memory.get(s.name),
            time=replace(pool(parts[s.name]), cpu=options.cpu) if parts[s.name] else None,
            instructions=counted.get(s.name),
        )
        for s in scenarios
    }
    return Results(created=created, environment=environment, scenarios=measured)
