"""The memory guard: a test that takes a process over its limit fails, and the run stops
with a report instead of swapping the machine; sizes are checked before any test runs."""

from __future__ import annotations

import json

import pytest

from conftest import Run
from leakbench.plugin.memory import Breach, Limits, MemoryGuard

MIB = 2**20

HOG = """
import pytest

RETAINED = []  # a module-level cache nobody clears: 30 MB more per test


@pytest.mark.parametrize("n", range(30))
def test_hog(n):
    RETAINED.append(b"x" * (30 * 2**20))
"""


class FakeTree:
    def __init__(self, total: int) -> None:
        self.total = total
        self.reads = 0

    def __call__(self, pid: int) -> int:
        self.reads += 1
        return self.total


def test_the_worker_limit_is_checked_after_every_test() -> None:
    guard = MemoryGuard(Limits(max_rss=100 * MIB, max_rss_text="--leaks-max-rss=100MiB"), 1)
    assert guard.check(99 * MIB) is None
    assert guard.check(101 * MIB) == Breach(
        "worker", 101 * MIB, 100 * MIB, "--leaks-max-rss=100MiB"
    )


def test_the_total_is_read_once_per_interval_while_this_worker_stays_flat() -> None:
    now = [0.0]
    tree = FakeTree(300 * MIB)
    limits = Limits(max_total_rss=1000 * MIB, max_total_rss_text="--leaks-max-total-rss=1000MiB")
    guard = MemoryGuard(limits, 1, workers=4, clock=lambda: now[0], read_tree=tree)
    for _ in range(100):
        assert guard.check(50 * MIB) is None
        now[0] += 0.001
    assert tree.reads == 1  # 0.1 s: within one interval
    now[0] += 0.25
    tree.total = 1100 * MIB
    breach = guard.check(50 * MIB)
    assert breach is not None and breach.scope == "total" and tree.reads == 2


def test_the_total_is_read_early_when_this_workers_growth_could_cross_the_limit() -> None:
    tree = FakeTree(600 * MIB)
    limits = Limits(max_total_rss=1000 * MIB, max_total_rss_text="--leaks-max-total-rss=1000MiB")
    guard = MemoryGuard(limits, 1, workers=4, clock=lambda: 0.0, read_tree=tree)
    assert guard.check(100 * MIB) is None  # the first reading
    assert guard.check(150 * MIB) is None and tree.reads == 1  # 600 + 4 x 50 < 1000
    tree.total = 1100 * MIB
    assert guard.check(210 * MIB) is not None and tree.reads == 2  # 600 + 4 x 110 > 1000


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--leaks-max-rss=lots", "--leaks-max-rss: 'lots' is not a size; expected a size such as"),
        ("--leaks-max-rss=2G", "--leaks-max-rss: '2G' is not a size; expected *75% (of RAM)"),
        ("--leaks-max-total-rss=150%", "--leaks-max-total-rss: '150%': a percentage must be*"),
        ("--leaks-max-rss=0", "--leaks-max-rss: a memory limit must be above 0"),
    ],
)
def test_a_bad_size_is_a_usage_error_listing_the_accepted_forms(
    leak_project: pytest.Pytester, run: Run, option: str, message: str
) -> None:
    leak_project.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    result = run(option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: leakbench: {message}*"])


def test_a_test_that_takes_the_process_over_the_limit_fails_and_the_run_stops(
    leak_project: pytest.Pytester, run: Run
) -> None:
    leak_project.makepyfile(test_hog=HOG)
    result = run("-p", "no:randomly", "--leaks-max-rss=200MiB", "--leaks-json=out.json")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    outcomes = result.parseoutcomes()
    assert outcomes["errors"] == 1 and 2 <= outcomes["passed"] <= 6  # stopped early
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at teardown of test_hog[[]*[]] _*",
            "leakbench memory guard: after test_hog.py::test_hog[[]*[]], this pytest process is "
            "at * MiB RSS, over the limit --leaks-max-rss=200MiB (200 MiB).",
            "Tests that grew this pytest process the most (RSS after teardown - before setup):",
            "*+30* MiB  test_hog.py::test_hog[[]*[]]",
            "This pytest process takes no more tests and the run stops here, *",
            "! leakbench memory guard: this pytest process uses * MiB, "
            "over --leaks-max-rss=200MiB *",
        ]
    )
    doc = json.loads((leak_project.path / "out.json").read_text())
    guarded = [t for t, rec in doc["tests"].items() if rec["memory_guard"]]
    assert len(guarded) == 1 and doc["tests"][guarded[0]]["outcome"] == "error"


def test_under_xdist_the_guard_fails_the_test_and_the_run_ends_with_a_report(
    leak_project: pytest.Pytester, run: Run
) -> None:
    leak_project.makepyfile(test_hog=HOG)
    result = run("-p", "no:randomly", "-n", "2", "--leaks-max-rss=200MiB", timeout=120)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    outcomes = result.parseoutcomes()
    assert 1 <= outcomes["errors"] <= 2 and outcomes["passed"] < 28
    result.stdout.fnmatch_lines(
        [
            "leakbench memory guard: after test_hog.py::test_hog[[]*[]], worker gw? is at * RSS*",
            "*Interrupted: leakbench memory guard: worker gw? uses * MiB, over --leaks-max-rss=*",
        ]
    )


def test_the_total_guard_covers_all_workers_together(
    leak_project: pytest.Pytester, run: Run
) -> None:
    leak_project.makepyfile(test_hog=HOG)
    result = run("-p", "no:randomly", "-n", "2", "--leaks-max-total-rss=400MiB", timeout=120)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "leakbench memory guard: after test_hog.py::test_hog[[]*[]], the run (controller and "
            "its process tree) is at * RSS, over the limit --leaks-max-total-rss=400MiB *",
        ]
    )


def test_help_lists_the_memory_options_with_the_size_forms(leak_project: pytest.Pytester) -> None:
    result = leak_project.runpytest_inprocess("-p", "no:cacheprovider", "--help")  # runs no test
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "  --leaks-max-rss=SIZE  memory guard: *",
            "*SIZE: 2GB, 512MiB, 1.5GiB, 1048576 or 75% (of*",
        ]
    )
