"""Verdicts of ``leakbench.gate.verdicts.rules`` on synthetic results: budgets, floor, envs."""

from __future__ import annotations

import json
import random
import statistics
from collections import Counter

import pytest

from leakbench.gate.results import TopSite
from leakbench.gate.verdicts.bootstrap import bootstrap_medians
from leakbench.gate.verdicts.budgets import Budget, BudgetConfig, BudgetError, from_table
from leakbench.gate.verdicts.records import Comparison, MetricComparison
from leakbench.gate.verdicts.rules import (
    EnvironmentKeyError,
    UnknownScenarioError,
    Verdict,
    compare,
    instructions_verdict,
    memory_verdict,
    pairing,
    ratio_change_interval,
    time_verdict,
)
from leakbench.reports import json_report
from test_compare_support import counted, env, memory, results, scenario, timing


def metric(c: Comparison, name: str, scenario_name: str = "s") -> MetricComparison:
    (s,) = [s for s in c.scenarios if s.name == scenario_name]
    (m,) = [m for m in s.metrics if m.metric == name]
    return m


# ------------------------------------------------------------------------ statistics


@pytest.mark.parametrize("n", [4, 7, 8])
def test_the_order_statistic_bootstrap_has_the_textbook_distribution(n: int) -> None:
    """Few rounds: compare the probability of every possible median exactly."""
    rng = random.Random(1)
    data = [rng.lognormvariate(0, 0.3) for _ in range(n)]
    draws = 20_000
    fast = Counter(round(x, 9) for x in bootstrap_medians(data, draws, random.Random(2)))
    slow_rng = random.Random(3)
    slow = Counter(round(statistics.median(slow_rng.choices(data, k=n)), 9) for _ in range(draws))
    for atom in set(fast) | set(slow):
        assert abs(fast[atom] - slow[atom]) / draws < 0.015, atom


@pytest.mark.parametrize("n", [41, 60, 201])
def test_the_order_statistic_bootstrap_matches_the_textbook_quantiles(n: int) -> None:
    rng = random.Random(1)
    data = [rng.lognormvariate(0, 0.3) for _ in range(n)]
    fast = sorted(bootstrap_medians(data, 4000, random.Random(2)))
    slow_rng = random.Random(3)
    slow = sorted(statistics.median(slow_rng.choices(data, k=n)) for _ in range(4000))
    for q in (0.025, 0.25, 0.5, 0.75, 0.975):
        i = int(q * 3999)
        assert fast[i] == pytest.approx(slow[i], rel=0.03), q


def test_the_interval_is_deterministic_for_the_same_rounds() -> None:
    a, b = timing(1.0, seed=1).ratios, timing(1.0, seed=2).ratios
    assert ratio_change_interval(a, b) == ratio_change_interval(a, b)


@pytest.mark.parametrize("seed", range(10))
def test_same_distribution_rounds_give_an_interval_around_zero(seed: int) -> None:
    point, low, high = ratio_change_interval(
        timing(1.0, seed=seed).ratios, timing(1.0, seed=seed + 100).ratios
    )
    assert low < point < high
    assert low < 0.10 and high < 0.10  # A/A never fails a 10% budget
    assert time_verdict(low, high, 0.10) is Verdict.OK


def test_thirty_percent_slower_rounds_give_an_interval_above_the_budget() -> None:
    point, low, high = ratio_change_interval(timing(1.0, seed=1).ratios, timing(1.3, seed=2).ratios)
    assert point == pytest.approx(0.3, abs=0.03)
    assert low > 0.10
    assert time_verdict(low, high, 0.10) is Verdict.REGRESSION


def test_time_verdict_rules() -> None:
    assert time_verdict(0.11, 0.2, 0.10) is Verdict.REGRESSION
    assert time_verdict(0.05, 0.15, 0.10) is Verdict.INCONCLUSIVE
    assert time_verdict(-0.05, 0.09, 0.10) is Verdict.OK
    assert time_verdict(-0.3, -0.15, 0.10) is Verdict.IMPROVED


def test_memory_verdict_needs_both_the_budget_and_the_floor() -> None:
    floor = 64 * 1024
    assert memory_verdict(1_000_000, 1_250_000, 0.2, floor) is Verdict.REGRESSION
    assert memory_verdict(1_000_000, 1_100_000, 0.2, floor) is Verdict.OK
    assert memory_verdict(100, 400, 0.2, floor) is Verdict.OK  # +300% but +300 B
    assert memory_verdict(0, 300, 0.2, floor) is Verdict.OK
    assert memory_verdict(0, 100_000, 0.2, floor) is Verdict.REGRESSION
    assert memory_verdict(1_000_000, 500_000, 0.2, floor) is Verdict.IMPROVED
    # per-iteration: 1 KiB -> 1.25 KiB over 1000 iterations is 250 KiB extra
    assert memory_verdict(1024, 1280, 0.2, floor, scale=1000) is Verdict.REGRESSION
    assert memory_verdict(1024, 1280, 0.2, floor, scale=10) is Verdict.OK


# ------------------------------------------------------------------------ whole comparisons


def test_identical_results_pass_with_exit_zero() -> None:
    doc = results({"s": scenario(memory(1024), timing(1.0))})
    c = compare(doc, doc)
    assert c.exit_code == 0
    assert {m.verdict for m in c.scenarios[0].metrics} <= {Verdict.OK, Verdict.INFO}


def test_a_leak_growing_25_percent_per_iteration_fails_and_10_percent_passes() -> None:
    base = results({"s": scenario(memory(4096))})
    assert compare(base, results({"s": scenario(memory(4096 * 1.25))})).exit_code == 1
    c = compare(base, results({"s": scenario(memory(4096 * 1.10))}))
    assert c.exit_code == 0
    assert metric(c, "retained_per_iteration").change == pytest.approx(0.10)


def test_a_scenario_retaining_nothing_is_not_failed_by_300_bytes() -> None:
    base = results({"s": scenario(memory(0.0, fixed=100))})
    head = results({"s": scenario(memory(0.3, fixed=400))})
    c = compare(base, head)
    assert c.exit_code == 0
    assert "floor" in metric(c, "retained_bytes").note


def test_the_floor_is_configurable() -> None:
    base = results({"s": scenario(memory(0.0, fixed=100_000))})
    head = results({"s": scenario(memory(0.0, fixed=200_000))})
    assert compare(base, head).exit_code == 1
    assert compare(base, head, from_table({"memory_floor": "1MiB"})).exit_code == 0


def test_allocation_churn_is_shown_but_does_not_gate() -> None:
    base = results({"s": scenario(memory(allocated=10_000_000, allocations=1000))})
    head = results({"s": scenario(memory(allocated=40_000_000, allocations=9000))})
    c = compare(base, head)
    assert c.exit_code == 0
    assert metric(c, "total_allocated_bytes").verdict is Verdict.INFO
    gated = compare(base, head, from_table({"memory_metrics": ["total_allocated_bytes"]}))
    assert gated.exit_code == 1


def test_instructions_twelve_percent_more_fail_and_five_percent_pass() -> None:
    base = results({"s": scenario(instructions=counted(1_000_000))})
    more = compare(base, results({"s": scenario(instructions=counted(1_120_000))}))
    m = metric(more, "instructions")
    assert m.verdict is Verdict.REGRESSION and m.gated and more.exit_code == 1
    assert m.change == pytest.approx(0.12)
    fine = compare(base, results({"s": scenario(instructions=counted(1_050_000))}))
    assert metric(fine, "instructions").verdict is Verdict.OK and fine.exit_code == 0


def test_instructions_of_a_tiny_scenario_never_fail_below_the_floor() -> None:
    base = results({"s": scenario(instructions=counted(3_000))})
    head = results({"s": scenario(instructions=counted(3_900))})  # +30%, +900 < 1000
    m = metric(compare(base, head), "instructions")
    assert m.verdict is Verdict.OK and "below the floor of 1,000" in m.note
    assert instructions_verdict(3_000, 4_100, 0.10, 1_000) is Verdict.REGRESSION


def test_instructions_improve_symmetrically() -> None:
    assert instructions_verdict(1e6, 0.8e6, 0.10, 1_000) is Verdict.IMPROVED
    assert instructions_verdict(1e6, 0.95e6, 0.10, 1_000) is Verdict.OK
    assert instructions_verdict(3_000, 1_500, 0.10, 2_000) is Verdict.OK


def test_the_instructions_floor_is_a_budget_key() -> None:
    config = from_table({"instructions_floor": 500_000})
    base = results({"s": scenario(instructions=counted(1_000_000))})
    c = compare(base, results({"s": scenario(instructions=counted(1_400_000))}), config)
    assert metric(c, "instructions").verdict is Verdict.OK and c.exit_code == 0


def test_a_bad_instructions_floor_names_its_source_and_a_scenario_may_set_its_own() -> None:
    with pytest.raises(BudgetError, match="instructions_floor: expected a count >= 0"):
        from_table({"instructions_floor": "lots"})
    config = from_table({"scenarios": {"s": {"instructions_floor": 50_000, "reason": "noisy"}}})
    assert config.for_scenario("s").instructions_floor == 50_000
    assert config.for_scenario("other").instructions_floor == 1000


def test_counts_are_not_compared_across_valgrind_versions_or_iteration_counts() -> None:
    base = results({"s": scenario(instructions=counted(1e6))})
    newer = results({"s": scenario(instructions=counted(2e6, version="valgrind-3.22.0"))})
    m = metric(compare(base, newer), "instructions")
    assert m.verdict is Verdict.NOT_COMPARABLE and "valgrind-3.22.0" in m.note
    other_n = results({"s": scenario(instructions=counted(2e6, iterations=10))})
    m = metric(compare(base, other_n), "instructions")
    assert m.verdict is Verdict.NOT_COMPARABLE and "iterations differ" in m.note
    python = results({"s": scenario(instructions=counted(2e6))}, env(python_version="3.11.10"))
    c = compare(base, python)
    assert metric(c, "instructions").verdict is Verdict.NOT_COMPARABLE and c.exit_code == 0


def test_a_baseline_without_instruction_counts_is_compared_on_what_both_have() -> None:
    base = results({"s": scenario(memory(4096))})  # a schema-1 baseline: no instructions
    head = results({"s": scenario(memory(8192), instructions=counted(5e6))})
    c = compare(base, head)
    m = metric(c, "instructions")
    assert m.verdict is Verdict.NOT_COMPARABLE and not m.gated and "BASE" in m.note
    assert metric(c, "retained_per_iteration").verdict is Verdict.REGRESSION
    assert any("BASE has no instruction counts" in n and "baseline save" in n for n in c.notes)


def test_a_missing_valgrind_costs_the_figure_and_nothing_else() -> None:
    why = "valgrind is not installed (install it: apt-get install valgrind)"
    base = results({"s": scenario(instructions=counted(1e6))})
    head = results({"s": scenario(instructions=counted(None, reason=why))})
    c = compare(base, head)
    m = metric(c, "instructions")
    assert m.verdict is Verdict.NOT_COMPARABLE and why in m.note and c.exit_code == 0
    assert any(why in n for n in c.notes)
    assert metric(c, "peak_bytes").verdict is Verdict.OK


def test_no_instruction_row_when_neither_side_counted() -> None:
    c = compare(results({"s": scenario()}), results({"s": scenario()}))
    assert all(m.metric != "instructions" for s in c.scenarios for m in s.metrics)
    assert not any("instruction" in n for n in c.notes)


def test_wall_time_thirty_percent_slower_warns_but_never_fails_against_a_baseline() -> None:
    base = results({"s": scenario(time=timing(1.0, seed=1), instructions=counted(1e6))})
    slow = compare(
        base, results({"s": scenario(time=timing(1.3, seed=2), instructions=counted(1e6))})
    )
    m = metric(slow, "time")
    assert m.verdict is Verdict.INCONCLUSIVE and not m.gated and slow.exit_code == 0
    assert m.interval is not None and m.interval[0] > 0.10
    assert "instructions within budget" in m.note and "waiting" in m.note
    same = compare(
        base, results({"s": scenario(time=timing(1.0, seed=3), instructions=counted(1e6))})
    )
    assert metric(same, "time").verdict is Verdict.INFO and same.exit_code == 0


def test_wall_time_says_when_instructions_grew_too() -> None:
    base = results({"s": scenario(time=timing(1.0, seed=1), instructions=counted(1e6))})
    head = results({"s": scenario(time=timing(1.3, seed=2), instructions=counted(1.3e6))})
    c = compare(base, head)
    assert "instructions grew too" in metric(c, "time").note
    assert metric(c, "instructions").verdict is Verdict.REGRESSION and c.exit_code == 1


def test_wall_time_without_counts_warns_with_the_reason() -> None:
    base = results({"s": scenario(time=timing(1.0, seed=1))})
    head = results({"s": scenario(time=timing(1.3, seed=2))})
    m = metric(compare(base, head), "time")
    assert m.verdict is Verdict.INCONCLUSIVE and "no instruction count" in m.note


def test_a_wall_time_change_near_the_budget_is_only_information() -> None:
    base = results({"s": scenario(time=timing(1.0, seed=1, spread=0.1))})
    head = results({"s": scenario(time=timing(1.1, seed=2, spread=0.1))})
    c = compare(base, head)
    m = metric(c, "time")
    assert m.verdict is Verdict.INFO and not m.gated
    assert m.interval is not None and m.interval[0] < 0.10 < m.interval[1]
    assert c.exit_code == 0 and c.count(Verdict.INCONCLUSIVE) == 0


def test_a_reference_much_shorter_than_its_rounds_is_not_judged() -> None:
    """Seen for real: a 0.2 ms reference after 6 ms rounds doubled the ratio of unchanged code."""
    base = results({"s": scenario(time=timing(17.0, seed=1))})
    head = results({"s": scenario(time=timing(33.0, seed=2, units=1))})
    base_time = base.scenarios["s"].time
    assert base_time is not None and pairing(base_time) == pytest.approx(1.0, rel=0.1)
    c = compare(base, head)
    m = metric(c, "time")
    assert m.verdict is Verdict.INFO and c.exit_code == 0 and m.interval is None
    assert "HEAD reference ran 0.03x as long as its rounds" in m.note
    matched = compare(base, results({"s": scenario(time=timing(33.0, seed=2))}))
    assert metric(matched, "time").verdict is Verdict.INCONCLUSIVE


def test_too_few_rounds_are_not_judged() -> None:
    base = results({"s": scenario(time=timing(1.0, n=3))})
    head = results({"s": scenario(time=timing(2.0, n=3))})
    m = metric(compare(base, head), "time")
    assert m.verdict is Verdict.INFO and "fewer than 5 rounds" in m.note


def test_improvements_are_shown_not_failed() -> None:
    base = results({"s": scenario(memory(8192), timing(1.0, seed=1), instructions=counted(2e6))})
    head = results({"s": scenario(memory(2048), timing(0.6, seed=2), instructions=counted(1e6))})
    c = compare(base, head)
    assert metric(c, "retained_per_iteration").verdict is Verdict.IMPROVED
    assert metric(c, "instructions").verdict is Verdict.IMPROVED
    assert metric(c, "time").verdict is Verdict.INFO
    assert c.exit_code == 0


def test_another_cpu_makes_time_not_comparable_while_memory_still_gates() -> None:
    base = results({"s": scenario(memory(4096), timing(1.0))})
    head = results({"s": scenario(memory(8192), timing(2.0))}, env(cpu_model="Other CPU"))
    c = compare(base, head)
    assert not c.time_comparable
    assert metric(c, "time").verdict is Verdict.NOT_COMPARABLE
    assert "cpu_model" in metric(c, "time").note
    assert metric(c, "retained_per_iteration").verdict is Verdict.REGRESSION
    assert c.exit_code == 1
    assert any("memory still gates" in n for n in c.notes)


def test_another_python_patch_release_makes_time_not_comparable() -> None:
    base = results({"s": scenario(time=timing(1.0))})
    head = results({"s": scenario(time=timing(3.0))}, env(python_version="3.11.10"))
    c = compare(base, head)
    assert metric(c, "time").verdict is Verdict.NOT_COMPARABLE
    assert c.exit_code == 0


def test_another_environment_key_is_refused_unless_allowed() -> None:
    base = results({"s": scenario()})
    head = results({"s": scenario()}, env(key="py3.12-linux-x86_64-pyalloc"))
    with pytest.raises(EnvironmentKeyError):
        compare(base, head)
    assert not compare(base, head, allow_other_environment=True).time_comparable


def test_new_and_removed_scenarios_are_listed() -> None:
    base = results({"s": scenario(), "gone": scenario()})
    head = results({"s": scenario(), "fresh": scenario()})
    c = compare(base, head)
    assert c.new == ("fresh",) and c.removed == ("gone",)
    assert [s.name for s in c.scenarios] == ["s"]
    assert c.exit_code == 0


def test_a_missing_pass_is_not_comparable_and_never_fails() -> None:
    base = results({"s": scenario(memory(4096))})
    head_doc = scenario(memory(4096))
    head = results({"s": type(head_doc)("threads", "clean", False, head_doc.memory, None)})
    c = compare(base, head)
    assert metric(c, "time").verdict is Verdict.NOT_COMPARABLE and c.exit_code == 0


def test_different_iteration_counts_compare_only_per_iteration_memory() -> None:
    base = results({"s": scenario(memory(4096, iterations=1000))})
    head = results({"s": scenario(memory(8192, iterations=500))})
    c = compare(base, head)
    assert metric(c, "retained_bytes").verdict is Verdict.NOT_COMPARABLE
    assert metric(c, "retained_per_iteration").verdict is Verdict.REGRESSION


def test_an_override_with_a_reason_turns_a_regression_into_accepted() -> None:
    config = from_table(
        {"scenarios": {"s": {"memory_budget": 0.5, "reason": "pool grows until #12"}}}
    )
    base = results({"s": scenario(memory(4096))})
    c = compare(base, results({"s": scenario(memory(4096 * 1.3))}), config)
    m = metric(c, "retained_per_iteration")
    assert m.verdict is Verdict.ACCEPTED and m.note == "accepted: pool grows until #12"
    assert m.budget == 0.5 and c.exit_code == 0
    worse = compare(base, results({"s": scenario(memory(4096 * 1.8))}), config)
    assert metric(worse, "retained_per_iteration").verdict is Verdict.REGRESSION
    assert "pool grows" in metric(worse, "retained_per_iteration").note


def test_an_override_applies_only_to_its_scenario() -> None:
    config = from_table({"scenarios": {"a": {"memory_budget": 1.0}}})
    base = results({"a": scenario(memory(4096)), "b": scenario(memory(4096))})
    head = results({"a": scenario(memory(6000)), "b": scenario(memory(6000))})
    c = compare(base, head, config)
    assert metric(c, "retained_per_iteration", "a").verdict is Verdict.OK
    assert metric(c, "retained_per_iteration", "b").verdict is Verdict.REGRESSION


def test_a_time_override_with_a_reason_is_accepted() -> None:
    config = BudgetConfig(scenarios={"s": {"time_budget": 0.6, "reason": "new feature"}})
    base = results({"s": scenario(instructions=counted(1e6))})
    c = compare(base, results({"s": scenario(instructions=counted(1.3e6))}), config)
    m = metric(c, "instructions")
    assert m.verdict is Verdict.ACCEPTED and c.exit_code == 0
    assert m.note.startswith("accepted: new feature")


def test_an_override_for_an_unknown_scenario_is_noted() -> None:
    config = from_table({"scenarios": {"typo.leaky": {"memory_budget": 1.0}}})
    doc = results({"s": scenario()})
    assert any("typo.leaky" in n for n in compare(doc, doc, config).notes)


def test_most_regressed_scenarios_come_first() -> None:
    base = results({n: scenario(memory(4096)) for n in ("a", "b", "c")})
    head = results(
        {"a": scenario(memory(4096)), "b": scenario(memory(6000)), "c": scenario(memory(9000))}
    )
    c = compare(base, head)
    assert [s.name for s in c.scenarios] == ["c", "b", "a"]
    assert c.scenarios[0].metrics[0].verdict is Verdict.REGRESSION


def test_scenario_selection_by_name_or_leak_class() -> None:
    base = results({"s": scenario(), "t": scenario(leak_class="tasks")})
    assert [s.name for s in compare(base, base, scenarios=["tasks"]).scenarios] == ["t"]
    with pytest.raises(UnknownScenarioError, match="nope"):
        compare(base, base, scenarios=["nope"])


def test_the_json_document_is_strict_json() -> None:
    base = results({"s": scenario(memory(0.0, fixed=0))})
    site = TopSite("leaky.py:12 grow", 300_000, 3)
    head = results({"s": scenario(memory(0.0, fixed=300_000, sites=(site,)))})
    doc = json.loads(json_report.render(compare(base, head)))
    assert doc["schema"] == "leakbench-comparison"
    assert doc["summary"]["exit_code"] == 1
    (retained,) = [m for m in doc["scenarios"][0]["metrics"] if m["metric"] == "retained_bytes"]
    assert retained["change"] is None and retained["verdict"] == "regression"
    assert doc["scenarios"][0]["top_sites"][0]["location"] == "leaky.py:12 grow"


def test_budget_default_is_the_documented_one() -> None:
    assert Budget() == Budget(memory=0.2, time=0.1, memory_floor=65536, instructions_floor=1000)
