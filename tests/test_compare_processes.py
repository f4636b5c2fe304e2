"""Time comparisons that respect how the time pass measured: processes, pinning, reference,
and marker budgets carried in the results."""

from __future__ import annotations

import random
import statistics
from dataclasses import replace

import pytest

from leakbench.gate.measure import timing as timing_module
from leakbench.gate.measure.reference import REFERENCE_VERSION
from leakbench.gate.results import TimeResult, parse_results
from leakbench.gate.verdicts.bootstrap import (
    grouped_change_interval,
    grouped_statistic,
    ratio_change_interval,
    split_groups,
)
from leakbench.gate.verdicts.records import Comparison, MetricComparison
from leakbench.gate.verdicts.rules import Verdict, compare, time_incomparability, time_verdict
from test_compare_support import results, scenario, timing


def metric(c: Comparison, name: str, scenario_name: str = "s") -> MetricComparison:
    (s,) = [s for s in c.scenarios if s.name == scenario_name]
    (m,) = [m for m in s.metrics if m.metric == name]
    return m


def processes(
    centers: list[float], *, n: int = 60, spread: float = 0.02, seed: int = 0
) -> TimeResult:
    """A pooled time pass whose process ``i`` has median ratio ``centers[i]``."""
    rng = random.Random(seed)
    ratios = [max(0.01, rng.gauss(c, spread * c)) for c in centers for _ in range(n)]
    reference = [1e-3] * len(ratios)
    rounds = [r * 1e-3 for r in ratios]
    return TimeResult(
        rounds=rounds,
        reference_rounds=reference,
        ratios=ratios,
        median=statistics.median(rounds),
        mean=statistics.fmean(rounds),
        min=min(rounds),
        stddev=statistics.stdev(rounds),
        reference_median=1e-3,
        ratio_median=statistics.median(ratios),
        reference_units_per_round=1,
        process_rounds=[n] * len(centers),
        cpu=1,
    )


def test_split_groups_follows_process_rounds_and_falls_back_to_one_group() -> None:
    assert split_groups([1, 2, 3, 4, 5], [2, 3]) == [[1, 2], [3, 4, 5]]
    assert split_groups([1, 2, 3], []) == [[1, 2, 3]]
    assert split_groups([1, 2, 3], [1, 1]) == [[1, 2, 3]]  # does not add up: one group
    assert grouped_statistic([[1.0, 2.0, 3.0], [5.0]]) == pytest.approx(3.5)


def test_one_process_per_side_is_exactly_the_round_bootstrap() -> None:
    a, b = timing(1.0, seed=1).ratios, timing(1.1, seed=2).ratios
    assert grouped_change_interval([a], [b]) == ratio_change_interval(a, b)


def test_drift_between_processes_widens_the_interval_so_a_a_never_warns() -> None:
    # Unchanged code; BASE's processes drifted +-12% (a busy phase of the machine).
    base = processes([1.0, 1.12, 0.9], seed=1)
    head = processes([1.13, 1.1, 1.15], seed=2)
    naive = ratio_change_interval(base.ratios, head.ratios)
    assert time_verdict(naive[1], naive[2], 0.10) is Verdict.REGRESSION  # rounds alone: FAIL
    c = compare(results({"s": scenario(time=base)}), results({"s": scenario(time=head)}))
    m = metric(c, "time")
    assert m.interval is not None and m.interval[0] < 0.10 < m.interval[1]
    assert m.verdict is Verdict.INFO  # never gating against a stored baseline, and no warning
    assert c.exit_code == 0


def test_a_steady_thirty_percent_slowdown_warns_with_three_processes() -> None:
    base = processes([1.0, 1.02, 0.99], seed=3)
    head = processes([1.3, 1.31, 1.29], seed=4)
    c = compare(results({"s": scenario(time=base)}), results({"s": scenario(time=head)}))
    m = metric(c, "time")
    assert m.verdict is Verdict.INCONCLUSIVE and not m.gated
    assert m.change == pytest.approx(0.3, abs=0.03)
    assert c.exit_code == 0


@pytest.mark.parametrize("seed", range(5))
def test_steady_processes_give_an_a_a_interval_around_zero(seed: int) -> None:
    base = processes([1.0, 1.01, 0.99], seed=seed)
    head = processes([1.0, 0.99, 1.01], seed=seed + 50)
    c = compare(results({"s": scenario(time=base)}), results({"s": scenario(time=head)}))
    assert metric(c, "time").verdict is Verdict.INFO


def test_pinned_and_unpinned_times_are_not_comparable_but_memory_still_gates() -> None:
    base = processes([1.0, 1.0, 1.0])
    head = replace(processes([2.0, 2.0, 2.0]), cpu=None)
    assert time_incomparability(base, head) == "BASE pinned to CPU 1, HEAD unpinned"
    c = compare(results({"s": scenario(time=base)}), results({"s": scenario(time=head)}))
    m = metric(c, "time")
    assert m.verdict is Verdict.NOT_COMPARABLE and not m.gated
    assert "unpinned" in m.note
    assert c.exit_code == 0
    assert time_incomparability(base, replace(base, cpu=0)) == ""  # another CPU is fine


def test_a_changed_reference_workload_makes_time_not_comparable() -> None:
    base = processes([1.0, 1.0, 1.0])
    head = replace(processes([2.0, 2.0, 2.0]), reference_version=base.reference_version + 1)
    c = compare(results({"s": scenario(time=base)}), results({"s": scenario(time=head)}))
    m = metric(c, "time")
    assert m.verdict is Verdict.NOT_COMPARABLE
    assert "reference workload changed (v1 -> v2)" in m.note


def test_the_reference_version_is_stored_and_defaults_to_1_for_older_files() -> None:
    doc = results({"s": scenario(time=processes([1.0]))}).to_dict()
    assert doc["scenarios"]["s"]["time"]["reference_version"] == 1
    assert REFERENCE_VERSION == 1
    del doc["scenarios"]["s"]["time"]["reference_version"]
    loaded = parse_results(doc).scenarios["s"].time
    assert loaded is not None and loaded.reference_version == 1


def test_pooling_keeps_the_pinned_cpu_and_the_reference_version() -> None:
    part = replace(processes([1.0], n=10), reference_version=3, cpu=0)
    pooled = timing_module.pool([part, part])
    assert pooled.cpu == 0 and pooled.reference_version == 3
    assert pooled.process_rounds == [10, 10]


def test_a_marker_budget_in_the_results_applies() -> None:
    base = processes([1.0, 1.0, 1.0], seed=5)
    head = processes([1.3, 1.3, 1.3], seed=6)
    marked = replace(scenario(time=head), budget={"time_budget": 0.5})
    c = compare(results({"s": scenario(time=base)}), results({"s": marked}))
    assert metric(c, "time").verdict is Verdict.INFO  # +30% is within the marker's +50%
    assert c.scenarios[0].budget.time == 0.5
    assert c.scenarios[0].budget.source == "marker"
    assert c.exit_code == 0
