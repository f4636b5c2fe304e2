"""``leakbench workers`` logic on synthetic records: sizes, levels, the recommendation rule,
output parsing, groups, and the process-tree sampler on a small real tree. No timing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from leakbench._util.process_tree import (
    Memory,
    TreeSampler,
    _shares_parent_memory,
    read_memory,
    tree_pids,
)
from leakbench._util.sizes import parse_size
from leakbench.reports import workers_table
from leakbench.workers.choose import (
    LevelSummary,
    default_levels,
    parse_levels,
    recommend,
    result_label,
    summarize,
)
from leakbench.workers.groups import (
    GroupRules,
    Groups,
    LevelFacts,
    TestCost,
    TestRss,
    advise,
    classify,
    parse_durations,
    read_test_rss,
    write_groups,
)
from leakbench.workers.run import (
    Machine,
    Outcome,
    PytestRun,
    RunOptions,
    parse_output,
    read_machine,
)
from leakbench.workers.run import classify as classify_exit

MiB = 1024**2
GiB = 1024**3
BUDGET = 4 * GiB


def run(
    workers: int, seconds: float, outcome: Outcome = Outcome.PASS, peak: int = 500 * MiB
) -> PytestRun:
    return PytestRun(workers, outcome, 0, seconds, peak, controller_rss=60 * MiB)


def levels_of(*records: PytestRun, levels: tuple[int, ...] = (1, 2, 4, 8)) -> list[LevelSummary]:
    return summarize(records, levels, BUDGET)


# sizes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2GB", 2 * 10**9),
        ("512MiB", 512 * MiB),
        ("1.5GiB", int(1.5 * GiB)),
        ("100mb", 100 * 10**6),
        (" 64 KiB ", 64 * 1024),
        ("1048576", 1048576),
        ("75%", 750),
        ("12.5%", 125),
    ],
)
def test_sizes_in_decimal_binary_and_percent_forms_parse(text: str, expected: int) -> None:
    assert parse_size(text, total=1000) == expected


@pytest.mark.parametrize("text", ["2G", "lots", "-1GB", "", "1e9", "2 GBs", "0%", "150%"])
def test_anything_else_is_refused_with_the_accepted_forms(text: str) -> None:
    with pytest.raises(ValueError, match=r"2GB|percentage") as info:
        parse_size(text, total=1000)
    if "%" not in text:
        assert "512MiB" in str(info.value) and "75%" in str(info.value)


def test_a_percentage_without_a_total_is_refused() -> None:
    with pytest.raises(ValueError, match="needs a total"):
        parse_size("75%")


# levels


@pytest.mark.parametrize(
    ("maximum", "cpus", "expected"),
    [
        (4, 2, [0, 1, 2, 4]),
        (16, 6, [0, 1, 2, 4, 6, 8, 16]),
        (12, 6, [0, 1, 2, 4, 6, 8, 12]),
        (1, 1, [0, 1]),
        (3, 8, [0, 1, 2, 3]),
    ],
)
def test_default_levels_start_at_no_workers_double_up_to_the_maximum_and_include_the_cpus(
    maximum: int, cpus: int, expected: list[int]
) -> None:
    assert default_levels(maximum, cpus) == expected


def test_levels_parse_sorted_and_unique_with_zero_allowed() -> None:
    assert parse_levels("4, 2,1,2") == [1, 2, 4]
    assert parse_levels("0,1") == [0, 1]


@pytest.mark.parametrize("text", ["a", "1,,2", "-1", "1.5", ""])
def test_bad_levels_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="such as 1,2,4"):
        parse_levels(text)


# the recommendation rule


def test_the_fastest_level_that_passed_every_run_is_recommended() -> None:
    levels = levels_of(
        *(run(1, 10.0) for _ in range(3)),
        *(run(2, 6.0) for _ in range(3)),
        *(run(4, 5.0 + i / 10) for i in range(3)),
        run(8, 4.0),
        run(8, 4.0, Outcome.FAIL),
        run(8, 4.0),
    )
    choice = recommend(levels, "4 GiB")
    assert choice.workers == 4
    assert "-n 8 was faster but fail 1/3" in choice.reason
    assert [result_label(lv) for lv in levels] == ["pass", "pass", "pass", "fail 1/3"]


def test_a_faster_level_over_the_memory_budget_is_not_recommended() -> None:
    levels = levels_of(run(1, 10.0), run(2, 6.0), run(4, 5.0, peak=BUDGET + 1), levels=(1, 2, 4))
    choice = recommend(levels, "4 GiB")
    assert choice.workers == 2
    assert levels[2].over_budget and "over budget" in choice.reason


def test_one_run_over_budget_disqualifies_the_level() -> None:
    levels = levels_of(run(2, 5.0), run(2, 5.0, peak=BUDGET + 1), run(1, 9.0), levels=(1, 2))
    assert recommend(levels, "4 GiB").workers == 1


def test_a_run_stopped_by_the_guard_counts_as_over_budget_whatever_its_last_sample() -> None:
    levels = levels_of(run(1, 3.0, Outcome.OVER_BUDGET, peak=10), levels=(1,))
    assert levels[0].over_budget
    assert levels[0].median is None  # a killed run has no meaningful time


def test_near_ties_go_to_fewer_workers() -> None:
    levels = levels_of(run(2, 5.02), run(4, 5.0), levels=(2, 4))
    assert recommend(levels, "4 GiB").workers == 2


def test_crashes_and_timeouts_disqualify_and_are_labelled_worst_first() -> None:
    levels = levels_of(
        run(1, 9.0),
        run(2, 5.0, Outcome.FAIL),
        run(2, 5.0, Outcome.CRASH),
        run(2, 5.0, Outcome.TIMEOUT),
        levels=(1, 2),
    )
    assert result_label(levels[1]) == "crash 1/3, timeout 1/3, fail 1/3"
    assert recommend(levels, "4 GiB").workers == 1


def test_no_recommendation_says_why() -> None:
    failing = levels_of(run(1, 5.0, Outcome.FAIL), run(2, 4.0, Outcome.FAIL), levels=(1, 2))
    assert recommend(failing, "4 GiB").workers is None
    assert "fail at every level" in recommend(failing, "4 GiB").reason
    heavy = summarize([run(1, 5.0, peak=BUDGET * 2)], (1, 2), BUDGET, {2: "skipped"})
    reason = recommend(heavy, "4 GiB").reason
    assert "exceeded the memory budget (4 GiB)" in reason and "skipped" in reason


def test_skipped_levels_keep_their_reason_and_render_in_the_table() -> None:
    levels = summarize(
        [run(1, 5.0), run(2, 3.0, Outcome.OVER_BUDGET)],
        (1, 2, 4),
        BUDGET,
        {4: "-n 2 exceeded the memory budget"},
    )
    console = Console(record=True, width=200)
    console.print(workers_table.table(levels, recommend(levels, "4 GiB"), 7))
    text = console.export_text()
    assert "(7 tests)" in text
    assert "◀ recommended" in text and "over budget" in text
    assert "skipped" in text and "-n 2 exceeded the memory budget" in text


def test_the_output_reports_the_machine_record_it_is_given() -> None:
    machine = Machine(ram=8 * GiB, swap=0, cpus=3)
    assert workers_table.budget_label(6 * GiB, " 75% ", machine) == "6 GiB (75% of 8 GiB RAM)"
    assert workers_table.budget_label(2 * GiB, "2GiB", machine) == "2 GiB"
    assert workers_table.swap_note(machine).startswith("this machine has no swap")
    with_swap = Machine(ram=8 * GiB, swap=GiB, cpus=3)
    assert workers_table.swap_note(with_swap).endswith("(1 GiB total)")
    levels = levels_of(run(1, 5.0))
    recommendation = recommend(levels, "4 GiB")
    doc = workers_table.document(levels, recommendation, RunOptions(), BUDGET, "4GiB", 7, machine)
    assert (doc["ram"], doc["cpus"], doc["tests"]) == (8 * GiB, 3, 7)


def test_the_machine_is_read_once_into_a_record() -> None:
    machine = read_machine()
    assert machine.ram > 0 and machine.swap >= 0 and machine.cpus >= 1
    assert machine.cpus <= (os.cpu_count() or 1)


# reading pytest's output


def test_output_parsing_finds_the_summary_failures_and_crashed_workers() -> None:
    stdout = "\n".join(
        [
            "FAILED tests/test_a.py::test_x - AssertionError: boom",
            "ERROR tests/test_b.py::test_y[a b] - RuntimeError",
            "[gw1] node down: Not properly terminated",
            "worker 'gw1' crashed while running 'tests/test_c.py::test_z'",
            "=========== 1 failed, 3 passed, 1 error in 2.50s ===========",
        ]
    )
    parsed = parse_output(stdout)
    assert parsed.summary == "1 failed, 3 passed, 1 error in 2.50s"
    assert parsed.failed == ("tests/test_a.py::test_x", "tests/test_b.py::test_y[a b]")
    assert parsed.crashed == ("tests/test_c.py::test_z",)


@pytest.mark.parametrize(
    ("code", "crashed", "outcome"),
    [
        (0, (), Outcome.PASS),
        (1, (), Outcome.FAIL),
        (1, ("t::x",), Outcome.CRASH),
        (2, (), Outcome.CRASH),
        (3, (), Outcome.CRASH),
        (-9, (), Outcome.CRASH),
    ],
)
def test_exit_codes_classify(code: int, crashed: tuple[str, ...], outcome: Outcome) -> None:
    assert classify_exit(code, crashed) is outcome


# groups


def test_durations_sum_setup_call_and_teardown_per_node_id() -> None:
    stdout = "\n".join(
        [
            "============ slowest durations ============",
            "1.20s call     t.py::test_slow",
            "0.30s setup    t.py::test_slow",
            "0.00s teardown t.py::test_slow",
            "0.01s call     t.py::test_p[a b]",
            "3 passed in 1.60s",
        ]
    )
    assert parse_durations(stdout) == pytest.approx(
        {"t.py::test_slow": 1.5, "t.py::test_p[a b]": 0.01}
    )


RSS_SUITE = """
HELD = []


def test_0_first():
    pass


def test_1_keeps_40_mib():
    HELD.append(bytearray(b"x" * (40 * 1024 * 1024)))


def test_2_light_after_it():
    pass
"""
"""After the second test the process holds 40 MiB more: the third test starts there."""


def test_per_test_rss_is_read_from_the_results_file_the_plugin_writes(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_rss=RSS_SUITE)
    result = pytester.runpytest_subprocess(
        "-p", "no:randomly", "-p", "no:cacheprovider", "--leaks-rss", "--leaks-json=leaks.json"
    )
    result.assert_outcomes(passed=3)
    path = pytester.path / "leaks.json"
    readings = read_test_rss(path)
    assert set(readings) == {
        "test_rss.py::test_0_first",
        "test_rss.py::test_1_keeps_40_mib",
        "test_rss.py::test_2_light_after_it",
    }
    keeps = readings["test_rss.py::test_1_keeps_40_mib"]
    light = readings["test_rss.py::test_2_light_after_it"]
    assert keeps.own >= 35 * MiB
    # Measured from its own start (rss_before), the light test needed next to nothing,
    assert light.own < 20 * MiB
    # where an estimate from the lightest test of the process would charge it the 40 MiB
    # the previous test kept (what a file without rss_before, from an older plugin, gives).
    doc = json.loads(path.read_text())
    for record in doc["tests"].values():
        del record["rss_before"]
    path.write_text(json.dumps(doc))
    assert read_test_rss(path)["test_rss.py::test_2_light_after_it"].own >= 35 * MiB
    path.write_text("not json")
    assert read_test_rss(path) == {}
    assert read_test_rss(pytester.path / "missing.json") == {}


def costs() -> dict[str, TestCost]:
    items = [
        TestCost("t::big_and_slow", 5.0, TestRss(1000 * MiB, 100 * MiB)),
        TestCost("t::slow", 2.0, TestRss(180 * MiB, 100 * MiB)),
        TestCost("t::quick", 0.1, TestRss(170 * MiB, 100 * MiB)),
        TestCost("t::unmeasured", 0.2, None),
    ]
    return {c.nodeid: c for c in items}


def test_heavy_beats_long_and_the_rest_is_light() -> None:
    groups = classify(costs(), 100 * MiB, 1.0, rss_measured=True)
    assert groups == {
        "heavy": ("t::big_and_slow",),
        "long": ("t::slow",),
        "light": ("t::quick", "t::unmeasured"),
    }
    by_time = classify(costs(), 100 * MiB, 1.0, rss_measured=False)
    assert by_time["heavy"] == () and by_time["long"] == ("t::big_and_slow", "t::slow")


def test_heavy_tests_get_the_most_workers_whose_estimate_fits_the_budget() -> None:
    rules = GroupRules(100 * MiB, 1.0)
    split = Groups(classify(costs(), rules.heavy_rss, 1.0, True), costs(), True, rules)
    facts = [LevelFacts(n, True, 60 * MiB, 10.0 / n) for n in (1, 2, 4, 8)]
    advice = advise(split, facts, fastest=8, budget=2 * GiB)
    assert advice["heavy"].workers == 1  # 60 MiB + 1000 MiB fits 2 GiB; x2 does not
    assert advice["heavy"].estimate == 60 * MiB + 1000 * MiB
    assert advice["light"].workers == advice["long"].workers == 8
    roomy = advise(split, facts, fastest=8, budget=3 * GiB)
    assert roomy["heavy"].workers == 2  # 60 MiB + 2 x 1000 MiB; x4 would need ~4 GiB
    tight = advise(split, facts, fastest=8, budget=500 * MiB)
    assert tight["heavy"].workers == 1 and "exceed" in tight["heavy"].reason
    unmeasured = Groups(classify(costs(), rules.heavy_rss, 1.0, False), costs(), False, rules)
    assert advise(unmeasured, facts, 8, 2 * GiB)["heavy"].workers is None


def test_group_files_are_sorted_and_all_rewritten(tmp_path: Path) -> None:
    (tmp_path / "heavy.txt").write_text("stale::test\n")
    paths = write_groups({"long": ["b::y", "a::x"], "light": []}, tmp_path)
    assert [p.name for p in paths] == ["heavy.txt", "long.txt", "light.txt"]
    assert (tmp_path / "long.txt").read_text() == "a::x\nb::y\n"
    assert (tmp_path / "heavy.txt").read_text() == ""
    assert not list(tmp_path.glob(".*"))  # no temp files left behind


# the sampler, on a small real tree


ALLOCATING_CHILD = (
    "import subprocess, sys; subprocess.run([sys.executable, '-c', "
    '\'import sys, time; block = b"x" * (60 * 2**20); sys.stdout.write("ready"); '
    "sys.stdout.flush(); time.sleep(0.6)'])"
)


def test_the_sampler_sums_rss_over_children_and_grandchildren() -> None:
    proc = subprocess.Popen([sys.executable, "-c", ALLOCATING_CHILD], stdout=subprocess.PIPE)
    with TreeSampler(proc.pid, interval=0.02) as sampler:
        assert proc.stdout is not None
        assert proc.stdout.read(5) == b"ready"  # the grandchild holds its 60 MiB now
        sampler.sample()
        proc.wait()
        proc.stdout.close()
    assert sampler.peak_rss >= 60 * MiB
    assert sampler.most_processes >= 2
    assert sampler.seen and sampler.controller_rss > 0
    assert sum(sampler.hwm.values()) >= sampler.peak_rss


def test_the_guard_kills_the_whole_tree_above_the_limit() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True
    )
    with TreeSampler(proc.pid, interval=0.02, limit=1) as sampler:
        proc.wait(timeout=30)
    assert sampler.over_limit
    assert proc.returncode < 0


def test_a_child_not_yet_execd_is_not_counted_twice() -> None:
    parent = Memory(rss=127 * MiB, swap=0, hwm=130 * MiB, size=900 * MiB)
    assert _shares_parent_memory(parent, parent)  # vfork: the very same numbers
    assert not _shares_parent_memory(parent._replace(rss=9 * MiB, size=20 * MiB), parent)
    assert not _shares_parent_memory(parent, None)  # the root has no parent


def test_memory_of_a_gone_process_is_none_and_of_this_one_positive() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert read_memory(proc.pid) is None
    assert tree_pids(proc.pid) == []
    mine = read_memory(os.getpid())
    assert mine is not None and mine.rss > 0 and mine.hwm >= mine.rss
