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

Since instruction counts (``leakbench.gate.measure.instructions``) judge CPU work exactly,
``compare-branches`` runs pairs only for scenarios whose time is mostly *waiting* (sleep,
I/O, locks, child processes), which instructions do not see, and where Valgrind gave no
count. :func:`waiting` tells them apart from one native probe process per side: a round's
process CPU time (every thread) over its wall time, taken at the 90th percentile of the
rounds because preemption on a busy machine only ever lowers it; below
:data:`WAITING_SHARE` the scenario is waiting-dominated. The other scenarios get a wall-time
row from the probes (:func:`probe_metric`), shown and never gating.

This module only decides. Each process of a pair is the ``pair-time`` mode of the one
measurement child (``leakbench.gate.measure.child.run_pair_process``), laid out by the one
round plan (``leakbench.gate.measure.plan``); ``leakbench compare-branches`` wires the two.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from leakbench.gate.measure.plan import Plan
from leakbench.gate.verdicts.bootstrap import RESAMPLES, SEED, median_interval
from leakbench.gate.verdicts.budgets import Budget
from leakbench.gate.verdicts.records import (
    MetricComparison,
    ScenarioComparison,
    Verdict,
    metric_order,
)
from leakbench.gate.verdicts.rules import acknowledge

__all__ = [
    "DEFAULT_MAX_PAIRS",
    "DEFAULT_MAX_TIME",
    "DEFAULT_PAIRS",
    "STATISTICS",
    "WAITING_SHARE",
    "Decision",
    "Measure",
    "PairRun",
    "cpu_share",
    "decide",
    "probe_metric",
    "run_pairs",
    "time_metric",
    "waiting",
    "with_time",
]

DEFAULT_PAIRS = 5
"""Initial pairs: 10 processes of ~0.5 s per scenario, a few minutes for the whole suite."""
DEFAULT_MAX_PAIRS = 21
DEFAULT_MAX_TIME = 30.0
"""Seconds one scenario may spend adding pairs before it is called inconclusive."""
STEP = 2
"""Pairs added per step: keeps the AB/BA balance."""
WAITING_SHARE = 0.5
"""A scenario whose rounds spend less than this share of their wall time on the CPU (90th
percentile over the rounds) is waiting-dominated: its time is judged in ABBA pairs."""


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
    median, low, high = median_interval(ratios, resamples=resamples, seed=seed)
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


def cpu_share(rounds: Sequence[float], cpu_rounds: Sequence[float]) -> float | None:
    """The 90th percentile over rounds of CPU seconds / wall seconds (None: no CPU times).

    Preemption by other jobs adds wall time and no CPU time, so it only lowers a round's
    share; a high quantile is the share of an undisturbed round."""
    shares = sorted(c / r for r, c in zip(rounds, cpu_rounds, strict=False) if r > 0)
    if not shares:
        return None
    return shares[min(len(shares) - 1, (len(shares) * 9) // 10)]


def waiting(rounds: Sequence[float], cpu_rounds: Sequence[float]) -> bool:
    """Whether a probe's rounds were mostly waiting (see :data:`WAITING_SHARE`); unknown
    CPU times count as waiting, so that the pairs still judge."""
    share = cpu_share(rounds, cpu_rounds)
    return share is None or share < WAITING_SHARE


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
    plan: Plan | None = None,
) -> PairRun:
    """Measure ``name`` in ABBA pairs until the interval decides, or the limits are hit.

    A calibration process (BASE, not counted) fixes the plan first, so that both sides'
    rounds are alike and the first counted process is not also the one that warms the disk;
    ``plan`` (BASE's probe already calibrated) skips it.
    """
    start = clock()
    if plan is None:
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
    note = f"{len(run.base)} ABBA pairs, ratio interval [{d.low:.3f}, {d.high:.3f}]"
    if d.verdict is Verdict.INCONCLUSIVE and run.stopped:
        note += f"; stopped at {run.stopped}"
    # The default budget's verdict matters only for a reasoned override (and costs a bootstrap).
    by_default = decide(run.ratios or [1.0], default.time, seed=run.seed) if budget.reason else d
    verdict, note = acknowledge(d.verdict, by_default.verdict, budget, note)
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


def probe_metric(
    base: Sequence[float],
    head: Sequence[float],
    statistic: Callable[[Sequence[float]], float],
    note: str,
) -> MetricComparison:
    """The ``time`` row of a scenario judged by instructions: one probe process per side
    (rounds' seconds per iteration), compared by ``statistic``; shown, never gating."""
    b = float(statistic(base)) if base else None
    h = float(statistic(head)) if head else None
    change = h / b - 1 if b and h is not None else None
    return MetricComparison(
        "time", "time", "ratio", 1.0 if b else None, (h / b) if b and h is not None else None,
        change, None, Verdict.INFO, False, base_seconds=b, head_seconds=h, note=note,
    )  # fmt: skip


def with_time(s: ScenarioComparison, metric: MetricComparison | None) -> ScenarioComparison:
    """``s`` with its time row replaced by the ABBA ``metric`` (dropped when None), re-sorted."""
    metrics = [m for m in s.metrics if m.kind != "time"] + ([metric] if metric else [])
    metrics.sort(key=metric_order)
    return replace(s, metrics=tuple(metrics))
