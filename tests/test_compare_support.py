"""Builders of synthetic results for the comparison, report and CLI tests (no tests here).

Round data is drawn with a fixed seed around a chosen ratio, so statistical tests
are deterministic and never depend on this machine's timing.
"""

from __future__ import annotations

import json
import random
import statistics
from dataclasses import replace
from pathlib import Path
from typing import Any

from leakbench.gate.results import (
    Environment,
    InstructionsResult,
    MemoryResult,
    Results,
    ScenarioResult,
    TimeResult,
    TopSite,
)

KEY = "py3.11-linux-x86_64-pyalloc"


def env(**changes: Any) -> Environment:
    """A fixed fingerprint; ``changes`` override single fields."""
    base = Environment(
        python_version="3.11.9",
        implementation="CPython",
        platform="linux",
        machine="x86_64",
        cpu_model="Test CPU @ 2.0GHz",
        cpu_count=2,
        lock_hash="0123456789abcdef",
        memray_mode="pyalloc",
        git_commit="a" * 40,
        git_dirty=False,
        key=KEY,
    )
    return replace(base, **changes)


def memory(
    per_iteration: float = 0.0,
    *,
    iterations: int = 1000,
    fixed: int = 200_000,
    peak: int | None = None,
    allocated: int = 50_000_000,
    allocations: int = 100_000,
    sites: tuple[TopSite, ...] = (),
) -> MemoryResult:
    """A memory pass retaining ``fixed + per_iteration * iterations`` bytes."""
    retained = int(fixed + per_iteration * iterations)
    return MemoryResult(
        iterations=iterations,
        warmup_iterations=5,
        peak_bytes=peak if peak is not None else retained + 1_000_000,
        total_allocated_bytes=allocated,
        allocations=allocations,
        retained_bytes=retained,
        retained_per_iteration=per_iteration,
        series=[
            (iterations, retained),
            (2 * iterations, int(retained + per_iteration * iterations)),
        ],
        top_sites=list(sites),
    )


def timing(
    center: float = 1.0,
    *,
    n: int = 60,
    spread: float = 0.03,
    seed: int = 0,
    ref: float = 1e-3,
    units: int | None = None,
) -> TimeResult:
    """Rounds whose scenario/reference ratio is drawn around ``center`` (fixed seed)."""
    rng = random.Random(seed)
    slowdown = [rng.uniform(0.8, 1.6) for _ in range(n)]  # machine noise, shared per round
    reference = [ref * s for s in slowdown]
    ratios = [max(0.01, rng.gauss(center, spread * center)) for _ in range(n)]
    rounds = [r * q for r, q in zip(ratios, reference, strict=True)]
    # As leakbench.gate.measure.timing does: the reference runs about as long as the round.
    units = max(1, round(center)) if units is None else units
    mean = sum(rounds) / n
    return TimeResult(
        rounds=rounds,
        reference_rounds=reference,
        ratios=ratios,
        median=statistics.median(rounds),
        mean=mean,
        min=min(rounds),
        stddev=(sum((x - mean) ** 2 for x in rounds) / n) ** 0.5,
        reference_median=statistics.median(reference),
        ratio_median=statistics.median(ratios),
        reference_units_per_round=units,
    )


def counted(
    per_iteration: float | None = 1_000_000.0,
    *,
    iterations: int = 20,
    reason: str = "",
    version: str = "valgrind-3.19.0",
) -> InstructionsResult:
    """An instruction pass counting ``per_iteration`` (None: no figure, ``reason`` why)."""
    return InstructionsResult(
        per_iteration=per_iteration,
        iterations=iterations,
        warmup_iterations=2,
        total=None if per_iteration is None else int(per_iteration * iterations),
        tool="callgrind",
        tool_version=version,
        seconds=3.5,
        reason=reason if per_iteration is None else "",
    )


def scenario(
    mem: MemoryResult | None = None,
    time: TimeResult | None = None,
    leak_class: str = "threads",
    instructions: InstructionsResult | None = None,
) -> ScenarioResult:
    """A clean scenario of ``leak_class`` with the given passes (defaults: memory and time
    present, no instruction pass)."""
    return ScenarioResult(
        leak_class=leak_class,
        variant="clean",
        leaks_memory=False,
        memory=mem if mem is not None else memory(),
        time=time if time is not None else timing(),
        instructions=instructions,
    )


def results(
    scenarios: dict[str, ScenarioResult], environment: Environment | None = None
) -> Results:
    """A results document holding ``scenarios``."""
    return Results(
        created="2026-11-21T20:00:00+00:00",
        environment=environment or env(),
        scenarios=scenarios,
    )


def write(path: Path, doc: Results) -> Path:
    """Write ``doc`` as JSON (plainly: tests of bad files edit the text afterwards)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc.to_dict()), encoding="utf-8")
    return path
