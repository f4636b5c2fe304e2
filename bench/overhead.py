"""What ``pytest --leaks`` costs per test: a benchmark, not a test.

Generates a suite of trivial tests into a temporary folder and runs it with plain
``pytest``, with ``pytest --leaks`` and with ``pytest --threadleak``
(pytest-threadleak, as a reference), interleaved round by round with the order
rotated, so that machine noise hits every variant alike. Prints, per variant, the
median wall time, the per-test overhead over plain pytest in microseconds (median
over rounds of the same-round difference) and the median wall-time ratio.

Beside wall time, the same three variants' **instructions per trivial test**, which do not
depend on the machine's load: each variant runs a suite of ``--small`` and one of ``--large``
trivial tests under ``valgrind --tool=cachegrind --cache-sim=no`` (``PYTHONHASHSEED=0``), and
instructions per test = (I(large) - I(small)) / (large - small), so start-up, collection
set-up and the session's end cancel out. The pytest process's own count is read (its log,
named by its pid), not a forked child's. Skipped with a note when Valgrind is missing.

    .venv/bin/python bench/overhead.py [--tests 2000] [--rounds 5] [--small 100 --large 300]

Target for the default detectors: <= 100 us per clean test and a ratio <= 1.10.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMON = ("-p", "no:cacheprovider", "-q", "-p", "no:xdist", "-p", "no:randomly")
VARIANTS: dict[str, tuple[str, ...]] = {
    "plain": (),
    "--leaks": ("--leaks",),
    "--threadleak": ("--threadleak",),
}
TARGET_US = 100.0
TARGET_RATIO = 1.10


def generate(root: Path, tests: int, per_file: int = 100) -> None:
    """``tests`` trivial tests in files of ``per_file``, and a pytest config of their own."""
    (root / "pytest.ini").write_text("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    for start in range(0, tests, per_file):
        count = min(per_file, tests - start)
        body = "".join(f"def test_{start + i}():\n    assert True\n\n\n" for i in range(count))
        (root / f"test_gen_{start // per_file:03d}.py").write_text(body)


def run_once(root: Path, extra: tuple[str, ...], tests: int) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "LEAKBENCH_LEAKS")}
    cmd = [sys.executable, "-m", "pytest", *COMMON, *extra, "."]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0 or f"{tests} passed" not in proc.stdout:
        sys.exit(f"{' '.join(cmd)} failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return elapsed


def instructions(root: Path, extra: tuple[str, ...], tests: int) -> int:
    """Instructions of one whole ``pytest`` run of ``tests`` trivial tests, under cachegrind."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "LEAKBENCH_LEAKS")}
    env["PYTHONHASHSEED"] = "0"
    logs = root / "logs"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir()
    cmd = [
        "valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
        f"--log-file={logs}/vg.%p.log", sys.executable, "-m", "pytest", *COMMON, *extra, ".",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.PIPE, text=True)
    out, _ = proc.communicate()
    if proc.returncode != 0 or f"{tests} passed" not in out:
        sys.exit(f"{' '.join(cmd)} failed (exit {proc.returncode}):\n{out}")
    text = (logs / f"vg.{proc.pid}.log").read_text()
    found = re.findall(r"I\s+refs:\s+([\d,]+)", text)
    if not found:
        sys.exit(f"no instruction count in {logs}/vg.{proc.pid}.log")
    return int(found[-1].replace(",", ""))


def instruction_table(small: int, large: int) -> None:
    """Instructions per trivial test of each variant, by differencing two suite sizes."""
    if shutil.which("valgrind") is None:
        print("\ninstructions: valgrind is not installed (apt-get install valgrind); skipped")
        return
    per_test: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="leakbench-overhead-i-") as tmp:
        for tests in (small, large):
            (Path(tmp) / str(tests)).mkdir()
            generate(Path(tmp) / str(tests), tests)
        for name, extra in VARIANTS.items():
            counts = {n: instructions(Path(tmp) / str(n), extra, n) for n in (small, large)}
            per_test[name] = (counts[large] - counts[small]) / (large - small)
            print(
                f"instructions {name}: {counts[small]:,} ({small} tests), "
                f"{counts[large]:,} ({large} tests)",
                flush=True,
            )
    plain = per_test["plain"]
    print(f"\ninstructions per trivial test (cachegrind, ({large} - {small}) tests differenced)")
    print(f"{'variant':<14} {'M instr/test':>12} {'vs plain':>16}")
    print(f"{'plain':<14} {plain / 1e6:>12.3f} {'-':>16}")
    for name in list(VARIANTS)[1:]:
        extra = per_test[name] - plain
        print(
            f"{name:<14} {per_test[name] / 1e6:>12.3f} "
            f"{extra / 1e6:>+9.3f} M {extra / plain:>+6.1%}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=2000, help="number of generated tests")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--small", type=int, default=100, help="smaller suite (instructions)")
    parser.add_argument("--large", type=int, default=300, help="larger suite (instructions)")
    parser.add_argument("--no-instructions", action="store_true", help="wall time only")
    args = parser.parse_args(argv)

    names = list(VARIANTS)
    times: dict[str, list[float]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory(prefix="leakbench-overhead-") as tmp:
        root = Path(tmp)
        generate(root, args.tests)
        for name in names:  # warm-up: byte-code caches, page cache
            run_once(root, VARIANTS[name], args.tests)
        for round_no in range(args.rounds):
            order = names[round_no % len(names) :] + names[: round_no % len(names)]
            for name in order:
                times[name].append(run_once(root, VARIANTS[name], args.tests))
            print(
                f"round {round_no + 1}/{args.rounds}: "
                + "  ".join(f"{n} {times[n][-1]:.3f}s" for n in names),
                flush=True,
            )

    plain = times["plain"]
    print(f"\n{args.tests} trivial tests, {args.rounds} interleaved rounds, median over rounds")
    print(f"{'variant':<14} {'wall s':>8} {'us/test':>9} {'ratio':>7}  us/test per round")
    print(f"{'plain':<14} {statistics.median(plain):>8.3f} {'-':>9} {'-':>7}")
    verdict = 0
    for name in names[1:]:
        own = times[name]
        per_round = [(t - p) / args.tests * 1e6 for t, p in zip(own, plain, strict=True)]
        overhead_us = statistics.median(per_round)
        ratio = statistics.median(t / p for t, p in zip(own, plain, strict=True))
        spread = f"{min(per_round):.0f} .. {max(per_round):.0f}"
        print(
            f"{name:<14} {statistics.median(own):>8.3f} {overhead_us:>9.1f} {ratio:>7.3f}  {spread}"
        )
        if name == "--leaks" and (overhead_us > TARGET_US or ratio > TARGET_RATIO):
            verdict = 1
    met = "met" if verdict == 0 else "MISSED"
    print(f"\ntarget for --leaks: <= {TARGET_US:.0f} us/test and ratio <= {TARGET_RATIO}: {met}")
    if not args.no_instructions:
        instruction_table(args.small, args.large)
    return verdict


if __name__ == "__main__":
    sys.exit(main())
