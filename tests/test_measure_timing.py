"""The time pass runs real pytest-benchmark, outside xdist, with the reference interleaved."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from leakbench.gate.measure import plan, timing
from leakbench.gate.measure.child import (
    PairProcess,
    ScenarioInfo,
    list_scenarios,
    run_in_child,
    run_pair_process,
    run_time_pass,
)
from leakbench.gate.measure.reference import reference_unit, run_reference
from leakbench.gate.measure.spawn import MeasurementError
from leakbench.gate.results import TimeResult
from test_measure_support import write_demo_suite


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo")
    write_demo_suite(root)
    return root


def test_rounds_and_reference_rounds_are_paired(
    demo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As if leakbench bench ran inside an xdist worker with -n in PYTEST_ADDOPTS: the child
    # must not inherit either, or pytest-benchmark would disable itself and time nothing.
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    monkeypatch.setenv("PYTEST_ADDOPTS", "-n 2")
    result = run_time_pass(
        "grow.clean", suites="leakbench_demo_suites", root=demo_root, budget=0.2, timeout=120
    )
    n = len(result.rounds)
    assert plan.MIN_ROUNDS <= n <= plan.MAX_ROUNDS
    assert len(result.reference_rounds) == len(result.ratios) == n
    assert all(r > 0 for r in result.rounds + result.reference_rounds)
    for r, ref, ratio in zip(result.rounds, result.reference_rounds, result.ratios, strict=True):
        assert ratio == pytest.approx(r / ref)
    assert result.median == pytest.approx(statistics.median(result.rounds))
    assert result.min == min(result.rounds)
    assert result.ratio_median == pytest.approx(statistics.median(result.ratios))
    assert result.iterations_per_round >= 1 and result.reference_units_per_round >= 1
    assert n * result.iterations_per_round <= 2000


def test_a_leaky_scenario_is_capped_and_cannot_hang_the_pass(demo_root: Path) -> None:
    result = run_time_pass(
        "stuck.leaky",
        suites="leakbench_demo_suites",
        root=demo_root,
        budget=0.2,
        max_iterations=20,
        timeout=60,
    )
    assert len(result.rounds) * result.iterations_per_round <= 20


def test_a_failing_scenario_names_the_error(demo_root: Path) -> None:
    with pytest.raises(MeasurementError, match=r"time pass of broken\.clean: .*demo scenario"):
        run_time_pass("broken.clean", suites="leakbench_demo_suites", root=demo_root, budget=0.1)


def test_a_pair_process_calibrates_without_a_reference_then_repeats_its_plan(
    demo_root: Path,
) -> None:
    def pair(given: plan.Plan | None) -> PairProcess:
        return run_pair_process(
            "grow.clean", suites="leakbench_demo_suites", root=demo_root, plan=given, timeout=120
        )

    first = pair(None)
    rounds, laid = first.rounds, first.plan
    assert laid.reference_units == 0 and len(rounds) == laid.rounds
    assert plan.MIN_ROUNDS <= laid.rounds <= plan.MAX_ROUNDS and all(r > 0 for r in rounds)
    assert len(first.cpu_rounds) == len(rounds) and all(c >= 0 for c in first.cpu_rounds)
    again = pair(plan.Plan(2, 11))
    assert again.plan == plan.Plan(2, 11) and len(again.rounds) == 11


def test_a_leaky_pair_process_stays_within_its_iteration_cap(demo_root: Path) -> None:
    laid = run_pair_process(
        "stuck.leaky", suites="leakbench_demo_suites", root=demo_root, plan=None, timeout=60
    ).plan
    assert laid.rounds * laid.iterations <= 20  # stuck.leaky's time_max_iterations


def test_the_list_mode_describes_the_scenarios_without_importing_them_here(
    demo_root: Path,
) -> None:
    found = list_scenarios(suites="leakbench_demo_suites", root=demo_root, what="listing")
    assert found["grow.leaky"] == ScenarioInfo(
        "grow", "leaky", True, 8, 20, "leakbench_demo_suites.demo"
    )
    assert set(found) == {"grow.leaky", "grow.clean", "broken.clean", "stuck.leaky"}


def test_a_child_that_cannot_run_its_mode_is_a_measurement_error(demo_root: Path) -> None:
    with pytest.raises(MeasurementError, match=r"^asking: exited with 1: KeyError: 'nope'"):
        run_in_child("nope", {}, dict, root=demo_root, timeout=60, what="asking")  # type: ignore[arg-type]


def test_a_time_plan_without_reference_units_is_refused() -> None:
    class Bench:
        def pedantic(self, *args: object, **kwargs: object) -> None:
            raise AssertionError("must not time")

    with pytest.raises(ValueError, match="reference units"):
        timing.time_interleaved(Bench(), lambda: None, 1.0, plan=plan.Plan(1, 10))


@pytest.mark.parametrize(
    ("per_iteration", "cap", "iterations", "rounds"),
    [
        (0.1, 2000, 1, 20),  # slow: one call per round, budget / cost rounds
        (1.0, 2000, 1, 10),  # slower than the budget allows: still MIN_ROUNDS
        (1e-3, 2000, 10, 200),  # fast: longer rounds rather than more than MAX_ROUNDS
        (1e-5, 2000, 100, 20),  # very fast: rounds of >= 1 ms, within the cap
        (1e-4, 200, 10, 20),  # leaky default cap
        (1e-6, 200, 20, 10),  # cap below MIN_ROUNDS x min-round iterations
    ],
)
def test_the_round_plan_follows_budget_floor_and_cap(
    per_iteration: float, cap: int, iterations: int, rounds: int
) -> None:
    laid = plan.plan_rounds(per_iteration, 2.0, cap, unit_seconds=1.5e-5)
    assert (laid.iterations, laid.rounds) == (iterations, rounds)
    if per_iteration < 1.0:
        assert laid.iterations * laid.rounds <= cap


def test_a_plan_without_a_reference_has_no_reference_units() -> None:
    assert plan.plan_rounds(1e-5, 0.2, 2000, unit_seconds=None) == plan.Plan(100, 20, 0)


def test_the_reference_workload_is_deterministic() -> None:
    assert reference_unit() == reference_unit()
    assert run_reference(3) == reference_unit() ^ reference_unit() ^ reference_unit()


def test_pooled_processes_keep_every_round_and_their_origin() -> None:
    def part(rounds: list[float]) -> TimeResult:
        reference = [1e-5] * len(rounds)
        return TimeResult(
            rounds=rounds,
            reference_rounds=reference,
            ratios=[r / 1e-5 for r in rounds],
            median=statistics.median(rounds),
            mean=statistics.fmean(rounds),
            min=min(rounds),
            stddev=0.0,
            reference_median=1e-5,
            ratio_median=statistics.median(rounds) / 1e-5,
            iterations_per_round=4,
            reference_units_per_round=7,
            process_rounds=[len(rounds)],
        )

    pooled = timing.pool([part([1e-3, 2e-3]), part([3e-3, 4e-3, 5e-3])])
    assert pooled.rounds == [1e-3, 2e-3, 3e-3, 4e-3, 5e-3]
    assert pooled.process_rounds == [2, 3]
    assert pooled.median == 3e-3 and pooled.min == 1e-3
    assert pooled.ratio_median == pytest.approx(300.0)
    assert pooled.stddev == pytest.approx(statistics.stdev(pooled.rounds))
    # The next processes repeat iterations and rounds; the reference units follow what the
    # rounds (4 x 1 ms) and a unit (10 us) really took, not the first calibration (7).
    assert plan.plan_of(part([1e-3] * 12)) == plan.Plan(4, 12, 400)
