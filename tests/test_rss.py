"""RSS readings: this process, its high-water mark, a process tree; and their rendering."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from leakbench._util.proc import SelfMemory, total_ram, tree_rss
from leakbench._util.sizes import format_size
from leakbench.plugin.text import growth_lines

MIB = 2**20


@pytest.fixture
def memory() -> Iterator[SelfMemory]:
    probe = SelfMemory()
    yield probe
    probe.close()


def test_rss_is_the_process_resident_size_and_grows_with_touched_memory(
    memory: SelfMemory,
) -> None:
    before = memory.rss()
    block = b"x" * (40 * MIB)
    after = memory.rss()
    assert 10 * MIB < before < total_ram()
    assert after - before >= 30 * MIB
    del block


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="clear_refs is Linux-only")
def test_resetting_the_high_water_mark_makes_the_peak_that_of_what_follows(
    memory: SelfMemory,
) -> None:
    assert memory.can_reset_peak
    block = b"x" * (60 * MIB)
    del block
    rss, peak = memory.rss_and_peak()
    assert peak - rss >= 40 * MIB  # the freed block is still in the high-water mark
    assert memory.reset_peak()
    rss, peak = memory.rss_and_peak()
    assert peak - rss < 10 * MIB


def test_tree_rss_adds_up_the_children(memory: SelfMemory) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; b = b'x' * (50 * 2**20); sys.stdin.read()"],
        stdin=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while tree_rss(os.getpid()) - memory.rss() < 50 * MIB and time.monotonic() < deadline:
            time.sleep(0.05)
        assert tree_rss(os.getpid()) - memory.rss() >= 50 * MIB
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=10)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_a_closed_probe_leaves_no_file_open() -> None:
    before = set(os.listdir("/proc/self/fd"))
    probe = SelfMemory()
    assert len(set(os.listdir("/proc/self/fd")) - before) == 3
    probe.close()
    assert set(os.listdir("/proc/self/fd")) <= before


@pytest.mark.parametrize(
    ("n", "text"),
    [(None, "-"), (0, "0 B"), (512, "512 B"), (1536, "1.5 KiB"), (-50 * MIB, "-50 MiB")],
)
def test_sizes_are_shown_in_binary_units(n: int | None, text: str) -> None:
    assert format_size(n) == text


def test_the_memory_summary_lists_the_largest_growth_first_and_every_worker() -> None:
    tests: dict[str, dict[str, Any]] = {
        "t.py::small": {"worker": "gw0", "rss_growth": MIB, "peak_rss": 60 * MIB},
        "t.py::big": {"worker": "gw1", "rss_growth": 50 * MIB, "peak_rss": 110 * MIB},
        "t.py::shrinks": {"worker": "gw0", "rss_growth": -MIB, "peak_rss": 60 * MIB},
        "t.py::unmeasured": {"worker": "gw0", "rss_growth": None, "peak_rss": None},
    }
    workers: dict[str, dict[str, Any]] = {
        "gw1": {"start_rss": 50 * MIB, "end_rss": 100 * MIB, "peak_rss": 110 * MIB},
        "gw0": {"start_rss": 50 * MIB, "end_rss": None, "peak_rss": None, "crashed": True},
    }
    lines = growth_lines(tests, workers)
    assert lines[0] == "tests that grew their worker the most (top 2):"
    assert "t.py::big" in lines[2] and "+50 MiB" in lines[2] and "110 MiB" in lines[2]
    assert "t.py::small" in lines[3]
    assert lines[4:] == [
        "worker gw0: start 50 MiB, end -, peak -, crashed",
        "worker gw1: start 50 MiB, end 100 MiB (+50 MiB), peak 110 MiB",
    ]
