"""Time verdicts from interleaved ABBA pairs of fresh processes, decided sequentially.

Why this design (FIELD-NOTES, "Timing"): on a shared machine absolute times of a ~1 ms
workload move 40-140% between separate runs, so a stored BASE time cannot gate a PR. What
held up here was measuring BASE and HEAD side by side: pair i runs one fresh process per
side back to back, in ABBA order (AB, BA, AB, ...) so neither side always runs first or
always inherits a warm cache; both use the same round plan (calibrated once); each pair
gives one ratio, HEAD's round time over BASE's (10th percentile of each process's rounds
by default, see :data:`STATISTICS`; ``--round-statistic median`` for the median). A busy
phase of the machine lasts seconds, so it slows both processes of a pair and cancels.

Decision: the median of the pair ratios and a percentile bootstrap 95% interval of that
median (pairs resampled, fixed seed: the same ratios always give the same verdict). FAIL
when the lower bound exceeds 1 + budget, PASS when the upper bound is below it; otherwise
two more pairs, until ``max_time`` seconds or ``max_pairs``, then "inconclusive" (a warning,
never a failure). A real +10% sits at this machine's noise floor, so it may end
inconclusive, which is the honest answer; it must never end PASS.

The child (``python -m leakbench.gate.verdicts.abba CONFIG_JSON``) also lists a side's scenarios,
so that BASE's suites are imported only in BASE's own process.
"""

from __future__ import annotations

import gc
import json
import math
import os
import random
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from leakbench.gate.verdicts.bootstrap import RESAMPLES, SEED, bootstrap_medians
from leakbench.gate.verdicts.budgets import Budget
from leakbench.gate.verdicts.records import SEVERITY, MetricComparison, ScenarioComparison, Verdict

__all__ = [
    "DEFAULT_MAX_PAIRS",
    "DEFAULT_MAX_TIME",
    "DEFAULT_PAIRS",
    "STATISTICS",
    "Decision",
    "PairRun",
    "Plan",
    "decide",
    "run_pairs",
    "time_metric",
    "with_time",
]

DEFAULT_PAIRS = 5
"""Initial pairs: 10 processes of ~0.5 s per scenario, a few minutes for the whole suite."""
DEFAULT_MAX_PAIRS = 21
DEFAULT_MAX_TIME = 30.0
"""Seconds one scenario may spend adding pairs before it is called inconclusive."""
STEP = 2
"""Pairs added per step: keeps the AB/BA balance."""
ROUND_SECONDS = 0.002
"""A round lasts at least this long (timer resolution and per-round overhead negligible)."""
PROCESS_SECONDS = 0.2
"""Timed rounds per process last about this long."""
MIN_ROUNDS, MAX_ROUNDS = 5, 60


def low_decile(rounds: Sequence[float]) -> float:
    """The 10th percentile of the round times: the process's speed when not preempted."""
    ordered = sorted(rounds)
    return ordered[len(ordered) // 10]


STATISTICS: dict[str, Callable[[Sequence[float]], float]] = {
    "p10": low_decile,
    "median": statistics.median,
}
"""Per-process statistic of the round times. Default ``p10``: measured here with the other
core's tenant busy (load 8 on 2 cores), A/A pair ratios of the *median* round time spread
0.87-2.58 because a whole process could get half a CPU, while ratios of the 10th percentile
stayed within 0.955-1.038. Preemption only ever adds time, so a low quantile sees the code's
own cost and the ratio keeps its power (a +30% change moves every round)."""


@dataclass(frozen=True)
class Plan:
    """Rounds and iterations per round, the same for every process of a scenario."""

    iterations: int
    rounds: int


@dataclass(frozen=True)
class Decision:
    """The verdict on a list of pair ratios (HEAD / BASE)."""

    verdict: Verdict
    median: float
    low: float
    high: float


@dataclass
class PairRun:
    """Everything measured for one scenario."""

    name: str
    plan: Plan
    base: list[float] = field(default_factory=list)
    """Seconds per iteration (the round statistic) of each BASE process, in pair order."""
    head: list[float] = field(default_factory=list)
    decision: Decision | None = None
    seconds: float = 0.0
    seed: int = SEED
    stopped: str = ""
    """Why pairs stopped being added while still inconclusive ("max time", "max pairs")."""

    @property
    def ratios(self) -> list[float]:
        """HEAD / BASE per pair."""
        return [h / b for h, b in zip(self.head, self.base, strict=True) if b > 0]


def decide(
    ratios: Sequence[float], budget: float, *, seed: int = SEED, resamples: int = RESAMPLES
) -> Decision:
    """Median ratio, its bootstrap 95% interval, and the verdict against ``1 + budget``."""
    median = statistics.median(ratios)
    meds = sorted(bootstrap_medians(ratios, resamples, random.Random(seed)))
    low = meds[math.floor(0.025 * (resamples - 1))]
    high = meds[math.ceil(0.975 * (resamples - 1))]
    limit = 1 + budget
    if low > limit:
        verdict = Verdict.REGRESSION
    elif high < 1 - budget:
        verdict = Verdict.IMPROVED
    elif high < limit:
        verdict = Verdict.OK
    else:
        verdict = Verdict.INCONCLUSIVE
    return Decision(verdict, median, low, high)


Measure = Callable[[str, str, "Plan | None"], "tuple[float, Plan]"]
"""``measure(side, scenario, plan)`` -> (seconds per iteration, plan used); ``side``
is ``"base"`` or ``"head"``; ``plan`` None asks the process to calibrate."""


def run_pairs(
    name: str,
    measure: Measure,
    budget: float,
    *,
    pairs: int = DEFAULT_PAIRS,
    max_pairs: int = DEFAULT_MAX_PAIRS,
    max_time: float = DEFAULT_MAX_TIME,
    seed: int = SEED,
    clock: Callable[[], float] = time.monotonic,
) -> PairRun:
    """Measure ``name`` in ABBA pairs until the interval decides, or the limits are hit.

    A calibration process (BASE, not counted) fixes the plan first, so that both sides'
    rounds are alike and the first counted process is not also the one that warms the disk.
    """
    start = clock()
    _, plan = measure("base", name, None)
    run = PairRun(name, plan, seed=seed)
    while True:
        target = max(pairs, 1) if not run.base else len(run.base) + STEP
        while len(run.base) < min(target, max_pairs):
            order = ("base", "head") if len(run.base) % 2 == 0 else ("head", "base")
            got = {side: measure(side, name, plan)[0] for side in order}
            run.base.append(got["base"])
            run.head.append(got["head"])
        run.decision = decide(run.ratios or [1.0], budget, seed=seed)
        run.seconds = clock() - start
        if run.decision.verdict is not Verdict.INCONCLUSIVE:
            return run
        if len(run.base) >= max_pairs:
            run.stopped = f"max {max_pairs} pairs"
            return run
        if run.seconds >= max_time:
            run.stopped = f"max time {max_time:g} s"
            return run


def time_metric(run: PairRun, budget: Budget, default: Budget) -> MetricComparison:
    """The ABBA decision as the ``time`` row of a scenario (acknowledged overrides shown)."""
    d = run.decision or decide([1.0], budget.time, seed=run.seed)
    verdict = d.verdict
    note = f"{len(run.base)} ABBA pairs, ratio interval [{d.low:.3f}, {d.high:.3f}]"
    if verdict is Verdict.INCONCLUSIVE and run.stopped:
        note += f"; stopped at {run.stopped}"
    if budget.reason:
        by_default = decide(run.ratios or [1.0], default.time, seed=run.seed).verdict
        if verdict is Verdict.REGRESSION:
            note += f"; exceeds even the acknowledged budget ({budget.reason})"
        elif (
            by_default in (Verdict.REGRESSION, Verdict.INCONCLUSIVE)
            and SEVERITY[by_default] > SEVERITY[verdict]
        ):
            verdict, note = Verdict.ACCEPTED, f"accepted: {budget.reason}; {note}"
    return MetricComparison(
        "time",
        "time",
        "ratio",
        1.0,
        d.median,
        d.median - 1,
        budget.time,
        verdict,
        True,
        interval=(d.low - 1, d.high - 1),
        base_seconds=statistics.median(run.base),
        head_seconds=statistics.median(run.head),
        note=note,
    )


def with_time(s: ScenarioComparison, metric: MetricComparison | None) -> ScenarioComparison:
    metrics = [m for m in s.metrics if m.kind != "time"] + ([metric] if metric else [])
    metrics.sort(key=lambda m: (-SEVERITY[m.verdict], -(m.change or 0.0) if m.gated else 0.0))
    return replace(s, metrics=tuple(metrics))


# --------------------------------------------------------------------------- child side


def _calibrate(iteration: Callable[[], None], cap: int) -> Plan:
    samples = []
    for _ in range(3):
        t0 = time.perf_counter()
        iteration()
        samples.append(time.perf_counter() - t0)
    per = max(statistics.median(samples), 1e-7)
    iterations = max(1, math.ceil(ROUND_SECONDS / per))
    rounds = int(PROCESS_SECONDS / (per * iterations))
    rounds = max(MIN_ROUNDS, min(MAX_ROUNDS, rounds, max(1, cap // iterations)))
    return Plan(iterations, rounds)


def time_scenario(config: dict[str, Any]) -> dict[str, Any]:
    """Child: enter the session, warm up once, run the plan's rounds; seconds per iteration
    of each round (the parent applies the round statistic) and the plan used."""
    from leakbench.gate.measure.runner import time_iterations_for
    from leakbench.gate.scenarios import discover

    scenario = discover(config["suites"], Path(config["root"]))[config["scenario"]]
    with scenario.session() as iteration:
        iteration()
        if config.get("plan"):
            plan = Plan(**config["plan"])
        else:
            plan = _calibrate(iteration, time_iterations_for(scenario))
        gc.collect()
        rounds = []
        for _ in range(plan.rounds):
            t0 = time.perf_counter()
            for _ in range(plan.iterations):
                iteration()
            rounds.append((time.perf_counter() - t0) / plan.iterations)
    return {
        "rounds": rounds,
        "plan": {"iterations": plan.iterations, "rounds": plan.rounds},
    }


def list_scenarios(config: dict[str, Any]) -> dict[str, Any]:
    """Child: the side's scenarios and what the parent needs to measure them."""
    from leakbench.gate.scenarios import discover

    found = discover(config["suites"], Path(config["root"]))
    return {
        "scenarios": {
            name: {
                "leak_class": s.leak_class,
                "variant": s.variant,
                "leaks_memory": s.leaks_memory,
                "bench_iterations": s.bench_iterations,
            }
            for name, s in found.items()
        }
    }


def main(argv: list[str] | None = None) -> None:
    """Child entry point: print one JSON line, exit 0; traceback and exit 1 on failure.

    Ends with ``os._exit`` so that threads a leaky scenario left cannot keep it alive.
    """
    args = sys.argv[1:] if argv is None else argv
    code = 1
    try:
        config = json.loads(args[0])
        action = list_scenarios if config["mode"] == "list" else time_scenario
        print("LEAKBENCH-RESULT " + json.dumps(action(config)))
        code = 0
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    main()
