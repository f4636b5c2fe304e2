"""Proof that the ``leakbench compare`` gate fails real regressions and never fails noise.

Run: ``.venv/bin/python bench/gate_proof.py`` (about 7 minutes here; ``--quick`` for ~2).

It measures small self-contained scenarios (defined below) with the real measurement
functions (``leakbench.gate.measure``: memray pass and pytest-benchmark pass, each in a fresh
process, exactly as ``leakbench bench`` does) and compares the results with the real
``leakbench.gate.verdicts.rules.compare`` under the default budgets. Each repetition measures:

- **A/A**: the unchanged scenarios twice (side A, then side B, with other measurements in
  between, like two CI runs), compared: any memory regression or time failure is a false alarm.
- **memory sensitivity**: ``proof.retain`` keeps 4 KiB per iteration; variants keep 25% and
  10% more. +25% must fail, +10% must pass (budget +20%).
- **time sensitivity**: ``proof.cpu`` does a fixed amount of pure-Python work; a variant does
  30% more. +30% must fail; the unchanged A/A pair must pass (budget +10%).

On the same pairs it asks pytest-benchmark what ``--benchmark-compare-fail=mean:10%`` says,
using pytest-benchmark's own check (``parse_compare_fail("mean:10%").fails``) on the ``mean``
its timing pass recorded for each side: the same numbers ``--benchmark-compare`` would
compare. Its failures on A/A pairs are false alarms.

Exit status: 0 when every claim held, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from math import ceil
from pathlib import Path
from typing import Any

from leakbench.gate.environment import fingerprint
from leakbench.gate.measure.child import run_memory_pass, run_time_pass
from leakbench.gate.measure.plan import CLEAN_TIME_ITERATIONS, DEFAULT_BUDGET, plan_of
from leakbench.gate.measure.runner import DEFAULT_TIME_PROCESSES
from leakbench.gate.measure.spawn import default_cpu
from leakbench.gate.measure.timing import pool
from leakbench.gate.results import (
    Environment,
    MemoryResult,
    Results,
    ScenarioResult,
    TimeResult,
    write_results,
)
from leakbench.gate.scenarios import Iteration, Scenario
from leakbench.gate.verdicts.rules import Verdict, compare

PACKAGE = "leakbench_gate_proof_suites"
SPIN = 6_000
"""Loop steps of ``proof.cpu``: about 1 ms per iteration here, like the field notes' workload."""
RETAIN = 4096
"""Bytes ``proof.retain`` keeps per iteration."""
MEMORY_ITERATIONS = 100

# --------------------------------------------------------------------------- scenarios


def _spin(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


@contextmanager
def _cpu(steps: int) -> Iterator[Iteration]:
    """Pure-Python work proportional to ``steps``; retains nothing."""

    def iteration() -> None:
        _spin(steps)

    yield iteration


@contextmanager
def _retain(size: int) -> Iterator[Iteration]:
    """Keeps ``size`` bytes per iteration (an unbounded cache), plus churn that is freed."""
    kept: list[bytearray] = []

    def iteration() -> None:
        kept.append(bytearray(size))
        scratch = {i: str(i) for i in range(50)}
        del scratch

    yield iteration
    kept.clear()


@contextmanager
def _clean() -> Iterator[Iteration]:
    """Allocation churn only: builds and drops a dict of strings."""

    def iteration() -> None:
        table = {i: f"row-{i}" for i in range(300)}
        del table

    yield iteration


def _scenario(name: str, session: Any) -> Scenario:
    return Scenario(name, "proof", "clean", (), session, leaks_memory=name.startswith("proof.ret"))


SCENARIOS = [
    _scenario("proof.cpu", partial(_cpu, SPIN)),
    _scenario("proof.cpu.slower30", partial(_cpu, int(SPIN * 1.3))),
    _scenario("proof.clean", _clean),
    _scenario("proof.retain", partial(_retain, RETAIN)),
    _scenario("proof.retain.more25", partial(_retain, int(RETAIN * 1.25))),
    _scenario("proof.retain.more10", partial(_retain, int(RETAIN * 1.10))),
]


def _write_package(root: Path) -> None:
    """A suites package for the measurement children that re-exports ``SCENARIOS`` above."""
    pkg = root / PACKAGE
    pkg.mkdir()
    here = str(Path(__file__).resolve().parent)
    (pkg / "__init__.py").write_text(
        f"import sys\nsys.path.insert(0, {here!r})\nfrom gate_proof import SCENARIOS\n"
    )


# --------------------------------------------------------------------------- measuring


@dataclass
class Runner:
    """Measures scenarios by name in fresh processes and wraps them as results documents.

    As ``leakbench bench`` does (``leakbench.gate.measure.runner``): every memory pass first, then
    the time passes in ``processes`` fresh processes per scenario taking turns across the
    scenarios of one set (A1 B1 A2 B2 ...), the first calibrating and the others repeating
    its plan, sharing ``budget``; every child pinned to ``cpu``.
    """

    root: Path
    budget: float
    iterations: int
    environment: Environment
    keep: Path | None = None
    """Folder to keep every repetition's results in (to inspect with ``leakbench compare``)."""
    processes: int = DEFAULT_TIME_PROCESSES
    cpu: int | None = None

    def measure(self, specs: list[tuple[str, bool, bool]]) -> dict[str, ScenarioResult]:
        """``(name, memory?, timing?)`` each; results by name."""
        t0 = time.perf_counter()
        mem: dict[str, MemoryResult] = {}
        for name, memory, _ in specs:
            if memory:
                mem[name] = run_memory_pass(
                    name,
                    suites=PACKAGE,
                    root=self.root,
                    iterations=self.iterations,
                    capture=None,
                    cpu=self.cpu,
                )
        parts: dict[str, list[TimeResult]] = {name: [] for name, _, timed in specs if timed}
        for _ in range(self.processes):
            for name, done in parts.items():
                done.append(
                    run_time_pass(
                        name,
                        suites=PACKAGE,
                        root=self.root,
                        budget=self.budget / self.processes,
                        max_iterations=max(1, ceil(CLEAN_TIME_ITERATIONS / self.processes)),
                        plan=plan_of(done[0]) if done else None,
                        cpu=self.cpu,
                    )
                )
        names = ", ".join(name for name, _, _ in specs)
        print(f"  measured {names} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        return {
            name: ScenarioResult(
                "proof",
                "clean",
                name.startswith("proof.ret"),
                mem.get(name),
                replace(pool(parts[name]), cpu=self.cpu) if name in parts else None,
            )
            for name, _, _ in specs
        }

    def results(self, scenarios: dict[str, ScenarioResult]) -> Results:
        return Results(datetime.now(UTC).isoformat(), self.environment, scenarios)


def _renamed(variants: dict[str, ScenarioResult]) -> dict[str, ScenarioResult]:
    """Variants under the names they stand in for, so ``leakbench compare`` pairs them."""
    return {
        "proof.cpu": variants["slower30"],
        "proof.retain": variants["more25"],
        "proof.retain.more10": variants["more10"],
    }


def pytest_benchmark_fails(base: ScenarioResult, head: ScenarioResult) -> bool:
    """What ``--benchmark-compare-fail=mean:10%`` says about HEAD vs BASE (its own code)."""
    from pytest_benchmark.utils import parse_compare_fail

    assert base.time is not None and head.time is not None
    check = parse_compare_fail("mean:10%")  # type: ignore[no-untyped-call]
    return bool(check.fails({"mean": head.time.mean}, {"mean": base.time.mean}))


def _verdicts(c: Any, kind: str) -> Counter[Verdict]:
    return Counter(m.verdict for s in c.scenarios for m in s.metrics if m.kind == kind)


@dataclass
class Tally:
    """Counts over all repetitions."""

    reps: int = 0
    aa_memory_regressions: int = 0
    aa_time_failures: int = 0
    aa_time_inconclusive: int = 0
    aa_time_pairs: int = 0
    aa_exit_nonzero: int = 0
    aa_pytest_benchmark_alarms: int = 0
    aa_mean_changes: list[float] = field(default_factory=list)
    aa_ratio_changes: list[float] = field(default_factory=list)
    mem25_failed: int = 0
    mem10_passed: int = 0
    time30_failed: int = 0
    time30_pytest_benchmark: int = 0
    unchanged_time_passed: int = 0
    unchanged_pytest_benchmark_passed: int = 0
    aa_time_inconclusive_pairing: int = 0
    time30_inconclusive: int = 0
    processes: int = DEFAULT_TIME_PROCESSES
    cpu: int | None = None
    load: list[float] = field(default_factory=list)
    """1-minute load average at the start of each repetition (2 cores here)."""


def repetition(run: Runner, tally: Tally) -> None:
    """One A/A pair plus the sensitivity variants, compared."""
    tally.load.append(os.getloadavg()[0])
    same = [("proof.cpu", True, True), ("proof.clean", True, True), ("proof.retain", True, False)]
    a = run.measure(same)
    variants = run.measure(
        [
            ("proof.cpu.slower30", False, True),
            ("proof.retain.more25", True, False),
            ("proof.retain.more10", True, False),
        ]
    )
    slower = variants["proof.cpu.slower30"]
    more25 = variants["proof.retain.more25"]
    more10 = variants["proof.retain.more10"]
    b = run.measure(same)
    tally.reps += 1
    aa = compare(run.results(a), run.results(b))
    if run.keep is not None:
        named = {
            "a": a,
            "b": b,
            "variants": {"slower30": slower, "more25": more25, "more10": more10},
        }
        for label, doc in named.items():
            path = run.keep / f"rep{tally.reps:02d}-{label}.json"
            write_results(run.results(doc if label != "variants" else _renamed(doc)), path)
    for s in aa.scenarios:
        for m in s.metrics:
            if m.verdict is Verdict.REGRESSION:
                print(f"  A/A FALSE ALARM {s.name} {m.metric}: {m}", file=sys.stderr)
    tally.aa_memory_regressions += _verdicts(aa, "memory")[Verdict.REGRESSION]
    tally.aa_time_failures += _verdicts(aa, "time")[Verdict.REGRESSION]
    tally.aa_time_inconclusive += _verdicts(aa, "time")[Verdict.INCONCLUSIVE]
    tally.aa_time_inconclusive_pairing += sum(
        "reference ran" in m.note for s in aa.scenarios for m in s.metrics
    )
    tally.aa_exit_nonzero += aa.exit_code != 0
    for name in ("proof.cpu", "proof.clean"):
        tally.aa_time_pairs += 1
        tally.aa_pytest_benchmark_alarms += pytest_benchmark_fails(a[name], b[name])
        ta, tb = a[name].time, b[name].time
        assert ta is not None and tb is not None
        tally.aa_mean_changes.append(tb.mean / ta.mean - 1)
        tally.aa_ratio_changes.append(tb.ratio_median / ta.ratio_median - 1)
    cpu_time = [m for s in aa.scenarios if s.name == "proof.cpu" for m in s.metrics]
    tally.unchanged_time_passed += any(
        m.kind == "time" and m.verdict in (Verdict.OK, Verdict.IMPROVED) for m in cpu_time
    )
    tally.unchanged_pytest_benchmark_passed += not pytest_benchmark_fails(
        a["proof.cpu"], b["proof.cpu"]
    )

    def gate(base: ScenarioResult, head: ScenarioResult, name: str) -> int:
        return compare(run.results({name: base}), run.results({name: head})).exit_code

    def time_only(result: ScenarioResult) -> ScenarioResult:
        return ScenarioResult("proof", "clean", False, None, result.time)

    mem25 = gate(a["proof.retain"], more25, "proof.retain")
    mem10 = gate(a["proof.retain"], more10, "proof.retain")
    slow = compare(
        run.results({"proof.cpu": time_only(a["proof.cpu"])}),
        run.results({"proof.cpu": time_only(slower)}),
    )
    time30 = slow.exit_code
    tally.time30_inconclusive += slow.count(Verdict.INCONCLUSIVE)
    for s in (*aa.scenarios, *slow.scenarios):
        for m in s.metrics:
            if m.kind == "time" and m.interval is not None:
                low, high = m.interval
                print(
                    f"  time {s.name}: {m.change:+.1%} [{low:+.1%}, {high:+.1%}] {m.verdict}",
                    file=sys.stderr,
                )
    tally.mem25_failed += mem25 == 1
    tally.mem10_passed += mem10 == 0
    tally.time30_failed += time30 == 1
    tally.time30_pytest_benchmark += pytest_benchmark_fails(a["proof.cpu"], slower)
    print(
        f"rep {tally.reps}: exit codes A/A {aa.exit_code}, memory +25% {mem25}, "
        f"memory +10% {mem10}, time +30% {time30}",
        file=sys.stderr,
    )


def report(t: Tally, budget: float, seconds: float) -> tuple[str, bool]:
    """A Markdown table for the README, and whether every claim held."""
    n = t.reps
    rows = [
        ("A/A: memory regressions (all metrics, 3 scenarios)", f"{t.aa_memory_regressions}", "—"),
        (
            "A/A: time failures",
            f"{t.aa_time_failures} of {t.aa_time_pairs} (inconclusive: {t.aa_time_inconclusive}, "
            f"of which reference mismatch: {t.aa_time_inconclusive_pairing})",
            f"{t.aa_pytest_benchmark_alarms} of {t.aa_time_pairs} false alarms",
        ),
        ("A/A: unchanged `proof.cpu` passes", f"{t.unchanged_time_passed}/{n}",
         f"{t.unchanged_pytest_benchmark_passed}/{n}"),
        ("memory +25% per iteration fails", f"{t.mem25_failed}/{n}", "—"),
        ("memory +10% per iteration passes", f"{t.mem10_passed}/{n}", "—"),
        ("time +30% fails", f"{t.time30_failed}/{n} (inconclusive: {t.time30_inconclusive})",
         f"{t.time30_pytest_benchmark}/{n}"),
    ]  # fmt: skip
    mean = t.aa_mean_changes
    ratio = t.aa_ratio_changes
    lines = [
        f"Gate proof: {n} repetitions, time budget {budget:g} s of rounds per scenario "
        f"in {t.processes} processes, pinned to CPU {t.cpu}, "
        f"{seconds / 60:.1f} min, 1-min load average {min(t.load):.1f}..{max(t.load):.1f} "
        f"on {os.cpu_count()} CPUs.",
        "",
        "| claim | leakbench compare | pytest-benchmark `mean:10%` |",
        "|---|---|---|",
        *[f"| {a} | {b} | {c} |" for a, b, c in rows],
        "",
        f"A/A spread of pytest-benchmark's mean: {min(mean):+.1%} .. {max(mean):+.1%}; of "
        f"leakbench's reference-normalised median ratio: {min(ratio):+.1%} .. {max(ratio):+.1%}.",
    ]
    held = (
        t.aa_memory_regressions == 0
        and t.aa_time_failures == 0
        and t.mem25_failed == n
        and t.mem10_passed == n
        and t.time30_failed == n
        and t.unchanged_time_passed == n
    )
    return "\n".join(lines), held


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repetitions", type=int, default=10)
    parser.add_argument("--time-budget", type=float, default=DEFAULT_BUDGET)
    parser.add_argument("--iterations", type=int, default=MEMORY_ITERATIONS)
    parser.add_argument("--time-processes", type=int, default=DEFAULT_TIME_PROCESSES)
    parser.add_argument("--no-pin", action="store_true", help="do not pin to one CPU")
    parser.add_argument("--quick", action="store_true", help="3 repetitions, 1 s time budget")
    parser.add_argument(
        "--json", type=Path, help="also write the tally as JSON here (after each repetition)"
    )
    parser.add_argument("--keep", type=Path, help="keep every repetition's results here")
    args = parser.parse_args(argv)
    if args.quick:
        args.repetitions, args.time_budget = 3, 1.0
    started = time.perf_counter()
    tally = Tally(processes=args.time_processes, cpu=None if args.no_pin else default_cpu())
    with tempfile.TemporaryDirectory(prefix="leakbench-gate-proof-") as tmp:
        root = Path(tmp)
        _write_package(root)
        run = Runner(
            root,
            args.time_budget,
            args.iterations,
            fingerprint(Path.cwd()),
            args.keep,
            processes=args.time_processes,
            cpu=tally.cpu,
        )
        for i in range(args.repetitions):
            print(f"repetition {i + 1}/{args.repetitions}", file=sys.stderr)
            repetition(run, tally)
            if args.json:  # after every repetition, so an interrupted run still has its figures
                args.json.write_text(json.dumps(tally.__dict__, indent=1) + "\n")
    text, held = report(tally, args.time_budget, time.perf_counter() - started)
    print(text)
    print("all claims held" if held else "SOME CLAIMS FAILED")
    if args.json:
        args.json.write_text(json.dumps(tally.__dict__, indent=1) + "\n")
    return 0 if held else 1


if __name__ == "__main__":
    raise SystemExit(main())
