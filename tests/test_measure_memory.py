"""The memory pass, run for real under memray in a child process, sees what a scenario keeps."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from leakbench.gate.measure.child import run_memory_pass
from leakbench.gate.measure.memory import slope
from leakbench.gate.measure.spawn import MeasurementError
from test_measure_support import LEAK_BYTES, write_demo_suite


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo")
    write_demo_suite(root)
    return root


def test_a_leaky_scenario_retains_its_leak_per_iteration(demo_root: Path) -> None:
    result = run_memory_pass(
        "grow.leaky",
        suites="leakbench_demo_suites",
        root=demo_root,
        iterations=8,
        capture=demo_root / "captures" / "grow.leaky.bin",
        timeout=120,
    )
    # bytearray(n) holds n + 1 bytes plus a ~57-byte header; the list of them grows too.
    assert LEAK_BYTES <= result.retained_per_iteration <= LEAK_BYTES * 1.1
    assert [k for k, _ in result.series] == list(range(1, 9))
    retained = [b for _, b in result.series]
    assert all(b > a for a, b in itertools.pairwise(retained))
    assert result.retained_bytes >= 8 * LEAK_BYTES
    assert abs(result.series[-1][1] - result.retained_bytes) < 4096
    assert result.peak_bytes >= result.retained_bytes
    assert result.total_allocated_bytes > result.retained_bytes
    assert result.allocations > 8 * 500  # the churn allocates a string per element
    top = result.top_sites[0]
    assert top.location.startswith("leakbench_demo_suites/demo.py:")
    assert top.location.endswith(" iteration")
    assert top.count >= 8 and top.bytes >= 8 * LEAK_BYTES
    assert result.capture is not None and Path(result.capture).stat().st_size > 0


def test_a_clean_scenario_retains_nothing_per_iteration(demo_root: Path) -> None:
    result = run_memory_pass(
        "grow.clean",
        suites="leakbench_demo_suites",
        root=demo_root,
        iterations=8,
        capture=None,
        timeout=120,
    )
    assert abs(result.retained_per_iteration) < 64
    assert result.retained_bytes < 16 * 1024
    assert result.allocations > 8 * 500
    assert result.capture is None


def test_a_failing_scenario_is_reported_with_its_error(demo_root: Path) -> None:
    with pytest.raises(MeasurementError, match=r"memory pass of broken\.clean: .*demo scenario"):
        run_memory_pass(
            "broken.clean",
            suites="leakbench_demo_suites",
            root=demo_root,
            iterations=2,
            capture=None,
            timeout=120,
        )


def test_threads_a_scenario_leaves_running_do_not_keep_the_child_alive(demo_root: Path) -> None:
    result = run_memory_pass(
        "stuck.leaky",
        suites="leakbench_demo_suites",
        root=demo_root,
        iterations=4,
        capture=None,
        timeout=60,
    )
    assert result.iterations == 4


@pytest.mark.parametrize(
    ("series", "expected"),
    [
        ([], 0.0),
        ([(1, 100)], 0.0),
        ([(k, 500 + 10 * k) for k in range(1, 11)], 10.0),
        # A one-off jump at the first point (a cache filled once) does not count.
        ([(1, 0), (2, 5000), (3, 5000), (4, 5000), (5, 5000), (6, 5000)], 0.0),
        # A 32 KiB block that some thread holds at times does not move the slope.
        ([(k, 100 * k + (32768 if k in (3, 4, 9, 15) else 0)) for k in range(1, 21)], 100.0),
        # A leak every other iteration is half a leak per iteration.
        ([(k, 1000 * (k // 2)) for k in range(1, 21)], 500.0),
    ],
)
def test_the_slope_is_robust_to_one_offs_and_blocks_that_come_and_go(
    series: list[tuple[int, int]], expected: float
) -> None:
    assert slope(series) == pytest.approx(expected)
