"""The ABBA pair loop and its sequential decision, with a fake ``measure`` (no processes)."""

from __future__ import annotations

import random
import statistics

from leakbench.gate.measure.plan import Plan
from leakbench.gate.verdicts.abba import (
    Measure,
    cpu_share,
    decide,
    probe_metric,
    run_pairs,
    time_metric,
    waiting,
)
from leakbench.gate.verdicts.bootstrap import SEED, bootstrap_medians
from leakbench.gate.verdicts.budgets import Budget
from leakbench.gate.verdicts.records import Verdict


def fake(slowdown: float, noise: float, seed: int = 1) -> tuple[list[str], Measure]:
    """A measure function: BASE 1 ms, HEAD ``slowdown`` x that, each with relative noise."""
    rng = random.Random(seed)
    calls: list[str] = []

    def measure(side: str, name: str, plan: Plan | None) -> tuple[float, Plan]:
        calls.append(side if plan else "calibrate")
        base = 1e-3 * (1 + rng.uniform(-noise, noise))
        return (base * slowdown if side == "head" else base), plan or Plan(3, 10)

    return calls, measure


def test_decide_verdicts() -> None:
    assert decide([1.0, 1.01, 0.99, 1.0, 1.02], 0.10).verdict is Verdict.OK
    assert decide([1.3, 1.31, 1.29, 1.32, 1.3], 0.10).verdict is Verdict.REGRESSION
    assert decide([1.05, 1.15, 1.1, 1.02, 1.18], 0.10).verdict is Verdict.INCONCLUSIVE
    assert decide([0.7, 0.72, 0.69, 0.71, 0.7], 0.10).verdict is Verdict.IMPROVED


def test_the_interval_is_the_2_5_and_97_5_percentile_of_bootstrap_medians() -> None:
    ratios = [1.0, 1.05, 0.98, 1.2, 1.01, 0.97, 1.1]
    medians = sorted(bootstrap_medians(ratios, 2000, random.Random(SEED)))
    d = decide(ratios, 0.1)
    assert (d.median, d.low, d.high) == (statistics.median(ratios), medians[49], medians[1950])


def test_same_ratios_same_interval() -> None:
    ratios = [1.0, 1.05, 0.98, 1.2, 1.01, 0.97]
    assert decide(ratios, 0.1, seed=3) == decide(ratios, 0.1, seed=3)


def test_abba_order_and_calibration_first() -> None:
    calls, measure = fake(1.0, 0.01)
    run = run_pairs("x", measure, 0.10, pairs=4)
    assert calls[:9] == ["calibrate", "base", "head", "head", "base", "base", "head", "head",
                         "base"]  # fmt: skip
    assert run.decision is not None and run.decision.verdict is Verdict.OK
    assert len(run.ratios) == 4


def test_clear_slowdown_fails_quickly() -> None:
    _, measure = fake(1.3, 0.03)
    run = run_pairs("x", measure, 0.10, pairs=5)
    assert run.decision is not None and run.decision.verdict is Verdict.REGRESSION
    assert len(run.ratios) == 5


def test_borderline_adds_pairs_then_inconclusive() -> None:
    _, measure = fake(1.10, 0.08)
    ticks = iter(range(1000))
    run = run_pairs(
        "x", measure, 0.10, pairs=3, max_pairs=9, max_time=1e9, clock=lambda: next(ticks)
    )
    assert run.decision is not None and run.decision.verdict is Verdict.INCONCLUSIVE
    assert len(run.ratios) == 9 and run.stopped == "max 9 pairs"


def test_max_time_stops_adding() -> None:
    _, measure = fake(1.10, 0.08)
    ticks = iter(range(0, 10000, 100))
    run = run_pairs(
        "x", measure, 0.10, pairs=3, max_pairs=99, max_time=50, clock=lambda: next(ticks)
    )
    assert run.stopped == "max time 50 s" and len(run.ratios) == 3


def test_acknowledged_time_regression_is_shown() -> None:
    _, measure = fake(1.3, 0.01)
    run = run_pairs("x", measure, 0.50, pairs=5)
    budget = Budget(time=0.5, reason="new parser is slower by design", source="pyproject")
    metric = time_metric(run, budget, Budget())
    assert metric.verdict is Verdict.ACCEPTED
    assert metric.note.startswith("accepted: new parser is slower by design")
    assert metric.interval is not None and metric.interval[0] > 0.2


def test_cpu_share_is_a_high_quantile_so_preemption_does_not_look_like_waiting() -> None:
    rounds = [1e-3] * 20
    busy = [1e-3] * 18 + [0.4e-3, 0.3e-3]  # two rounds preempted by another job
    assert cpu_share(rounds, busy) == 1.0 and not waiting(rounds, busy)
    asleep = [0.2e-3] * 20  # 80% of every round off the CPU (sleep, I/O, a child process)
    assert cpu_share(rounds, asleep) == 0.2 and waiting(rounds, asleep)
    assert cpu_share(rounds, []) is None and waiting(rounds, [])  # unknown: let pairs judge


def test_a_given_plan_skips_the_calibration_process() -> None:
    calls: list[tuple[str, Plan | None]] = []

    def measure(side: str, name: str, plan: Plan | None) -> tuple[float, Plan]:
        calls.append((side, plan))
        return 1.0, plan or Plan(1, 10)

    run = run_pairs("x", measure, 0.1, pairs=2, max_pairs=2, plan=Plan(3, 12))
    assert all(plan == Plan(3, 12) for _, plan in calls) and len(calls) == 4
    assert run.plan == Plan(3, 12)


def test_the_probe_row_shows_both_sides_and_never_gates() -> None:
    m = probe_metric([2e-3, 2.2e-3], [3e-3, 3.1e-3], min, "one process per side")
    assert m.verdict is Verdict.INFO and not m.gated and m.budget is None
    assert m.base_seconds == 2e-3 and m.head_seconds == 3e-3
    assert m.change is not None and abs(m.change - 0.5) < 1e-9
