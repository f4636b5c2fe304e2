"""``leakbench bench`` end to end on the demo suite: results written, bad names refused."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from leakbench.gate.results import load_results
from test_measure_support import write_demo_suite

SUITE = "leakbench_demo_suites"


def bench(root: Path, *args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [sys.executable, "-m", "leakbench", "bench", "--suites", SUITE, *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


@pytest.fixture
def demo_root(tmp_path: Path) -> Path:
    write_demo_suite(tmp_path)
    return tmp_path


def test_bench_writes_a_results_file_with_every_pass(demo_root: Path) -> None:
    out = bench(
        demo_root, "grow", "--time-budget", "0.2", "--time-processes", "2", "--out", "r.json",
        "-n", "2",
    )  # fmt: skip
    # No baseline: the results are written, but nothing was compared, which is bad input.
    assert out.returncode == 2, out.stderr
    assert "time pass never runs under pytest-xdist" in out.stderr
    assert "results written to r.json (2 scenarios; copy: .leakbench/results/latest.json)" in (
        out.stdout
    )
    assert "no baseline for environment py" in out.stderr
    assert "leakbench baseline save" in out.stderr
    results = load_results(demo_root / "r.json")
    assert set(results.scenarios) == {"grow.leaky", "grow.clean"}
    leaky = results.scenarios["grow.leaky"]
    assert leaky.memory is not None and leaky.time is not None
    assert leaky.memory.iterations == 8  # the scenario's bench_iterations
    assert leaky.memory.retained_per_iteration > 10 * 1024
    assert len(leaky.time.process_rounds) == 2  # the same plan in two fresh processes
    assert sum(leaky.time.process_rounds) == len(leaky.time.rounds)
    assert leaky.time.process_rounds[0] == leaky.time.process_rounds[1]
    assert leaky.memory.capture == str(demo_root / ".leakbench" / "captures" / "grow.leaky.bin")
    if shutil.which("valgrind") and shutil.which("callgrind_control"):
        assert leaky.instructions is not None and leaky.instructions.iterations == 20
        assert leaky.instructions.per_iteration is not None, leaky.instructions.reason
        assert leaky.instructions.per_iteration > 10_000
    latest = demo_root / ".leakbench" / "results" / "latest.json"
    assert json.loads(latest.read_text()) == json.loads((demo_root / "r.json").read_text())


def test_without_valgrind_bench_says_so_in_one_line_and_measures_the_rest(
    demo_root: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "no-valgrind-here"
    empty.mkdir()
    out = bench(
        demo_root, "grow.clean", "--time-budget", "0.2", "--time-processes", "1",
        "--no-compare", path=str(empty),
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    said = [line for line in out.stderr.splitlines() if "valgrind" in line]
    assert said == [
        "leakbench: note: valgrind is not installed (install it: apt-get install valgrind); no "
        "instruction counts, so time does not gate against the baseline (memory does)"
    ]
    (result,) = load_results(
        demo_root / ".leakbench" / "results" / "latest.json"
    ).scenarios.values()
    assert result.memory is not None and result.time is not None
    assert result.instructions is not None and result.instructions.per_iteration is None
    assert "apt-get install valgrind" in result.instructions.reason


def test_memory_only_skips_the_time_pass(demo_root: Path) -> None:
    out = bench(demo_root, "grow.clean", "--memory-only", "--iterations", "3", "--no-compare")
    assert out.returncode == 0, out.stderr
    results = load_results(demo_root / ".leakbench" / "results" / "latest.json")
    (result,) = results.scenarios.values()
    assert result.time is None and result.instructions is None
    assert result.memory is not None and result.memory.iterations == 3


def test_an_unknown_scenario_is_one_line_listing_the_known_ones(demo_root: Path) -> None:
    out = bench(demo_root, "nope")
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "unknown scenario 'nope'" in lines[0]
    assert "grow.clean" in lines[0] and "grow.leaky" in lines[0]


def test_a_scenario_that_fails_writes_nothing_and_exits_2(demo_root: Path) -> None:
    out = bench(demo_root, "broken", "--memory-only")
    assert out.returncode == 2
    assert "memory pass of broken.clean" in out.stderr
    assert "nothing was written" in out.stderr
    assert not (demo_root / ".leakbench" / "results").exists()


def test_bench_ends_with_compare_and_exits_like_it(demo_root: Path) -> None:
    first = bench(demo_root, "grow.leaky", "--memory-only")
    assert first.returncode == 2, first.stderr  # no baseline yet
    saved = subprocess.run(
        [sys.executable, "-m", "leakbench", "baseline", "save"],
        cwd=demo_root,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "saved baselines/" in saved.stdout
    same = bench(demo_root, "grow.leaky", "--memory-only")
    assert same.returncode == 0, same.stdout + same.stderr
    assert "within budget" in same.stdout
    module = demo_root / SUITE / "demo.py"
    module.write_text(
        module.read_text().replace("bytearray(LEAK_BYTES)", "bytearray(3 * LEAK_BYTES)")
    )
    worse = bench(demo_root, "grow.leaky", "--memory-only")
    assert worse.returncode == 1, worse.stdout + worse.stderr


def test_sigterm_during_a_pass_exits_130_and_writes_nothing(demo_root: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "leakbench", "bench", "--suites", SUITE, "grow.clean",
         "--time-budget", "60", "--no-compare"],
        cwd=demo_root, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env,
    )  # fmt: skip
    with proc:
        assert proc.stderr is not None
        for line in proc.stderr:  # wait until the (minute-long) time pass has started
            if "time pass" in line:
                break
        proc.terminate()
        rest = proc.stderr.read()
        assert proc.wait(timeout=60) == 130
    assert "interrupted; nothing was written" in rest
    assert not (demo_root / ".leakbench" / "results").exists()


def _children_of(root: Path) -> list[str]:
    """Command lines of processes still running a measurement child under ``root``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "leakbench.gate.measure.child" in cmdline and str(root) in cmdline:
            found.append(cmdline)
    return found


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="needs Valgrind (apt-get valgrind)")
def test_sigterm_while_counting_kills_the_valgrind_child_too(demo_root: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "leakbench", "bench", "--suites", SUITE, "grow",
         "--instruction-iterations", "10000000", "--no-compare"],
        cwd=demo_root, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env,
    )  # fmt: skip
    with proc:
        assert proc.stderr is not None
        for line in proc.stderr:  # the (long) instruction passes run beside the memory passes
            if "instruction pass" in line:
                break
        time.sleep(1.0)
        proc.terminate()
        # An unkilled pass of 10 million iterations would run for hours: exiting at all
        # (within the usual minute) means its Valgrind child was killed.
        code = proc.wait(timeout=60)
        rest = proc.stderr.read()
    assert code == 130, rest
    assert "interrupted; nothing was written" in rest
    deadline = time.monotonic() + 10
    while _children_of(demo_root) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _children_of(demo_root) == []
