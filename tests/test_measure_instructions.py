"""The instruction pass under real Valgrind (callgrind), and its absence without Valgrind.

Instruction counts are deterministic, so asserting on them is honest (no timing here). The
scenarios are tiny (a few thousand loop steps, 5 iterations) so that each Valgrind process
costs ~2 s; the proofs on the real suites are bench/instructions_proof.py.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from leakbench.gate.measure import child, instructions
from leakbench.gate.measure.child import run_instruction_pass
from leakbench.gate.measure.spawn import MeasurementError
from leakbench.gate.results import InstructionsResult
from test_measure_support import write_demo_suite, write_work_suite

needs_valgrind = pytest.mark.skipif(
    shutil.which("valgrind") is None or shutil.which("callgrind_control") is None,
    reason="Valgrind is not installed (apt-get install valgrind)",
)


@pytest.fixture
def work_root(tmp_path: Path) -> Path:
    write_work_suite(tmp_path)
    return tmp_path


@pytest.fixture
def no_valgrind(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """A PATH on which neither valgrind nor callgrind_control can be found."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    instructions.find_valgrind.cache_clear()
    yield
    instructions.find_valgrind.cache_clear()


def count(root: Path, iterations: int = 5, timeout: float = 120) -> InstructionsResult:
    return run_instruction_pass(
        "work.clean",
        suites="leakbench_work_suites",
        root=root,
        iterations=iterations,
        module="leakbench_work_suites.work",
        timeout=timeout,
    )


@needs_valgrind
def test_the_count_of_the_same_code_repeats_exactly_and_scales_with_the_work(
    work_root: Path,
) -> None:
    first = count(work_root)
    assert first.per_iteration is not None, first.reason
    assert first.total == round(first.per_iteration * 5) and first.iterations == 5
    assert first.tool == "callgrind" and first.tool_version.startswith("valgrind-")
    # 2000 loop steps of some hundred instructions each; start-up is not in the window.
    assert 100_000 < first.per_iteration < 10_000_000
    assert count(work_root).total == first.total  # a fresh process: the same count
    write_work_suite(work_root, work=2240)  # +12% loop steps
    more = count(work_root)
    assert more.per_iteration is not None
    assert more.per_iteration / first.per_iteration == pytest.approx(1.12, abs=0.01)


@needs_valgrind
def test_waiting_costs_no_instructions(work_root: Path) -> None:
    plain = count(work_root, iterations=2)
    write_work_suite(work_root, pause=0.05)  # time.sleep: wall time, a few syscalls
    paused = count(work_root, iterations=2)
    assert plain.per_iteration is not None and paused.per_iteration is not None
    assert paused.per_iteration == pytest.approx(plain.per_iteration, rel=0.05)


@needs_valgrind
def test_a_crashing_scenario_gives_no_figure_and_says_why(tmp_path: Path) -> None:
    write_demo_suite(tmp_path)
    broken = run_instruction_pass(
        "broken.clean", suites="leakbench_demo_suites", root=tmp_path, iterations=2, timeout=120
    )
    assert broken.per_iteration is None and broken.total is None
    assert "instruction pass of broken.clean" in broken.reason
    assert "the demo scenario broke" in broken.reason
    assert "\n" not in broken.reason


@needs_valgrind
def test_a_pass_that_outlives_its_timeout_is_killed_and_says_so(work_root: Path) -> None:
    write_work_suite(work_root, pause=30)
    stuck = count(work_root, iterations=1, timeout=8)
    assert stuck.per_iteration is None
    assert "timed out" in stuck.reason


def test_without_valgrind_the_figure_is_absent_with_the_install_command(
    work_root: Path, no_valgrind: None
) -> None:
    absent = count(work_root)
    assert absent.per_iteration is None and absent.seconds == 0.0
    assert absent.reason == "valgrind is not installed (install it: apt-get install valgrind)"


def test_the_collected_line_is_read_from_the_valgrind_log(tmp_path: Path) -> None:
    tool = instructions.Valgrind("valgrind", "callgrind_control", "valgrind-3.19.0")
    driver = instructions.Callgrind(tool, "instruction pass of x")
    driver.close()
    driver.pid = 4242
    log = tmp_path / "valgrind.4242.log"
    log.write_text("==4242== Events    : Ir\n==4242== Collected : 1234\n")
    assert driver.finish({"iterations": 2, "warmup": 1}, tmp_path)["total"] == 1234
    log.write_text("==4242== something else\n")
    with pytest.raises(MeasurementError, match="no instruction count"):
        driver.finish({}, tmp_path)


@needs_valgrind
def test_passes_on_several_threads_keep_their_own_pipes_and_counts(work_root: Path) -> None:
    """compare-branches and bench count on other threads: one pass's closed pipe end must
    never close another's (that was a real "Bad file descriptor")."""
    with ThreadPoolExecutor(3) as pool:
        got = list(pool.map(lambda _: count(work_root, iterations=2), range(3)))
    assert all(g.per_iteration is not None for g in got), [g.reason for g in got]
    assert len({g.total for g in got}) == 1


@needs_valgrind
def test_an_unusable_callgrind_control_costs_one_pass_not_every_one(
    work_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "fake-bin"
    fake.mkdir()
    script = fake / "callgrind_control"
    script.write_text(
        "#!/bin/sh\necho \"Error: Callgrind task with PID/name '$2' not detected.\"\n"
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(child, "_BROKEN_INSTRUMENT", "")
    instructions.find_valgrind.cache_clear()
    try:
        first = count(work_root)
        assert first.per_iteration is None
        assert "callgrind_control --instr=on: Error: Callgrind task" in first.reason
        second = count(work_root)
        assert second.per_iteration is None and second.seconds == 0.0
        assert second.reason.startswith("not tried: an earlier pass found callgrind_control")
    finally:
        instructions.find_valgrind.cache_clear()
