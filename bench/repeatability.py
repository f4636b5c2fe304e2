"""Is the memory pass repeatable? Measure each scenario in R fresh processes, print the spread.

Usage: ``.venv/bin/python bench/repeatability.py [SCENARIO...] [--runs 5] [--jobs 2]``

Target (issue 4): retained bytes per iteration and peak bytes within 2% across 5 fresh
processes. Relative spread is ``(max - min) / |median|``. For a clean scenario the median
retained-per-iteration is ~0 B, so a relative figure means nothing there; such a metric also
passes when its absolute range stays under the floor ``leakbench compare`` uses (64 KiB over
the run, i.e. range x iterations for the per-iteration metric). Exit 1 if any scenario misses.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from leakbench.gate.measure.child import run_memory_pass
from leakbench.gate.measure.runner import iterations_for
from leakbench.gate.measure.spawn import default_cpu
from leakbench.gate.results import MemoryResult
from leakbench.gate.scenarios import discover, select

TARGET = 0.02
FLOOR = 64 * 1024


def spread(values: list[float]) -> tuple[float, float]:
    """(relative spread, absolute range); relative is inf when the median is 0."""
    rng = max(values) - min(values)
    mid = abs(statistics.median(values))
    return (rng / mid if mid else (0.0 if rng == 0 else float("inf"))), rng


def verdict(values: list[float], scale: int = 1) -> tuple[str, bool]:
    """Formatted spread and whether it meets the target (2%, or under the floor)."""
    rel, rng = spread(values)
    ok = rel <= TARGET or rng * scale <= FLOOR
    text = f"{rel:7.2%}" if rel != float("inf") else "    inf"
    return f"{text} (range {rng:,.0f})", ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=1, help="processes at a time (2 adds noise)")
    parser.add_argument("--iterations", type=int)
    parser.add_argument("--suites", default="suites")
    parser.add_argument("--no-pin", action="store_true", help="do not pin to one CPU")
    args = parser.parse_args()
    cpu = None if args.no_pin else default_cpu()
    root = Path.cwd()
    scenarios = select(discover(args.suites, root), args.names)
    start = time.perf_counter()
    failures = 0
    header = f"{'scenario':32} {'N':>3} {'retained/iter (median)':>22} {'spread':>24}"
    print(f"{header} {'peak (median)':>14} {'spread':>24}")
    for scenario in scenarios:
        n = iterations_for(scenario, args.iterations)

        def one(_: int, name: str = scenario.name, n: int = n) -> MemoryResult:
            return run_memory_pass(
                name, suites=args.suites, root=root, iterations=n, capture=None, cpu=cpu
            )

        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            runs = list(pool.map(one, range(args.runs)))
        per_iteration = [r.retained_per_iteration for r in runs]
        peaks = [float(r.peak_bytes) for r in runs]
        slope_text, slope_ok = verdict(per_iteration, scale=n)
        peak_text, peak_ok = verdict(peaks)
        ok = slope_ok and peak_ok
        failures += not ok
        print(
            f"{scenario.name:32} {n:>3} {statistics.median(per_iteration):>22,.1f} "
            f"{slope_text:>24} {statistics.median(peaks):>14,.0f} {peak_text:>24}"
            f"  {'ok' if ok else 'MISS'}",
            flush=True,
        )
    elapsed = time.perf_counter() - start
    print(
        f"\n{len(scenarios) - failures}/{len(scenarios)} scenarios within 2% (or the floor) "
        f"over {args.runs} fresh processes each; {elapsed:.0f} s"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
