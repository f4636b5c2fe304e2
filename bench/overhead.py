"""What ``pytest --leaks`` costs per test: a benchmark, not a test.

Generates a suite of trivial tests into a temporary folder and runs it with plain
``pytest``, with ``pytest --leaks`` and with ``pytest --threadleak``
(pytest-threadleak, as a reference), interleaved round by round with the order
rotated, so that machine noise hits every variant alike. Prints, per variant, the
median wall time, the per-test overhead over plain pytest in microseconds (median
over rounds of the same-round difference) and the median wall-time ratio. On a shared
machine these wall figures move by hundreds of microseconds per test from round to round.

Beside wall time, the same three variants' **instructions per trivial test**, which do not
depend on the machine's load: each variant runs a suite of ``--small`` and one of ``--large``
trivial tests under ``valgrind --tool=cachegrind --cache-sim=no`` (``PYTHONHASHSEED=0``), and
instructions per test = (I(large) - I(small)) / (large - small), so start-up, collection
set-up and the session's end cancel out. The pytest process's own count is read (its log,
named by its pid), not a forked child's. Skipped with a note when Valgrind is missing.

**Overhead in microseconds derived from instructions** (the load-independent figure):

    us/test(variant) = (I/test(variant) - I/test(plain)) * (T/test(plain) / I/test(plain))

that is, the instruction overhead per test priced at what one instruction of plain pytest
costs on this machine, measured in the same run: T/test(plain) is the median wall time of
the plain rounds divided by ``--tests`` (with ``--instructions-only``: the plain suite's
wall time differenced like the instructions, (T(large) - T(small)) / (large - small), each
the minimum of ``--time-runs`` native runs). Both factors of the price come from plain
pytest alone, so the leak checks' own noise does not enter it. Valgrind counts user-space
instructions only: time spent in the kernel by a detector's system calls (a directory
listing, ``fstat``) is priced at plain pytest's average, which is close for cheap calls and
an underestimate for costly ones.

The target check uses this derived figure when Valgrind is present (the best-supported
one: its instruction part repeats exactly, and only the scale factor carries the machine's
noise), and the wall figures otherwise.

    .venv/bin/python bench/overhead.py [--tests 2000] [--rounds 5] [--small 100 --large 300]
    .venv/bin/python bench/overhead.py --instructions-only   # ~3 minutes on an idle machine

Target for the default detectors: <= 100 us per clean test (and a wall ratio <= 1.10 when
only wall time is measured).
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


def instruction_counts(small: int, large: int, time_runs: int) -> tuple[dict[str, float], float]:
    """Instructions per trivial test of each variant, by differencing two suite sizes, and
    plain pytest's native wall time per test differenced the same way (``time_runs`` runs
    of each size, the minimum; 0: not timed, returns 0.0)."""
    per_test: dict[str, float] = {}
    plain_time = 0.0
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
        if time_runs:
            walls = {
                n: min(run_once(Path(tmp) / str(n), (), n) for _ in range(time_runs))
                for n in (small, large)
            }
            plain_time = max(0.0, (walls[large] - walls[small]) / (large - small))
            print(
                f"plain wall (min of {time_runs}): {walls[small]:.3f}s ({small} tests), "
                f"{walls[large]:.3f}s ({large} tests)",
                flush=True,
            )
    return per_test, plain_time


def instruction_table(
    per_test: dict[str, float], plain_time: float, small: int, large: int
) -> float | None:
    """Print instructions per test and the derived us/test; returns --leaks' derived us."""
    plain = per_test["plain"]
    price = plain_time / plain if plain_time > 0 and plain > 0 else 0.0
    # seconds per instruction of plain pytest on this machine, in this run
    print(f"\ninstructions per trivial test (cachegrind, ({large} - {small}) tests differenced)")
    if price:
        print(
            f"priced at plain pytest's {plain_time * 1e6:.0f} us per "
            f"{plain / 1e6:.3f} M instructions a test"
        )
    print(f"{'variant':<14} {'M instr/test':>12} {'vs plain':>16} {'derived us/test':>16}")
    print(f"{'plain':<14} {plain / 1e6:>12.3f} {'-':>16} {'-':>16}")
    leaks_us = None
    for name in list(VARIANTS)[1:]:
        extra = per_test[name] - plain
        derived = extra * price * 1e6 if price else None
        shown = f"{derived:>16.1f}" if derived is not None else f"{'-':>16}"
        print(
            f"{name:<14} {per_test[name] / 1e6:>12.3f} "
            f"{extra / 1e6:>+9.3f} M {extra / plain:>+6.1%} {shown}"
        )
        if name == "--leaks":
            leaks_us = derived
    return leaks_us


def wall_rounds(tests: int, rounds: int) -> dict[str, list[float]]:
    """Wall time of each variant per round (order rotated), after one warm-up each."""
    names = list(VARIANTS)
    times: dict[str, list[float]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory(prefix="leakbench-overhead-") as tmp:
        root = Path(tmp)
        generate(root, tests)
        for name in names:  # warm-up: byte-code caches, page cache
            run_once(root, VARIANTS[name], tests)
        for round_no in range(rounds):
            order = names[round_no % len(names) :] + names[: round_no % len(names)]
            for name in order:
                times[name].append(run_once(root, VARIANTS[name], tests))
            print(
                f"round {round_no + 1}/{rounds}: "
                + "  ".join(f"{n} {times[n][-1]:.3f}s" for n in names),
                flush=True,
            )
    return times


def wall_table(times: dict[str, list[float]], tests: int, rounds: int) -> bool:
    """Print the wall figures; True when --leaks met the wall targets."""
    names = list(VARIANTS)
    plain = times["plain"]
    print(f"\n{tests} trivial tests, {rounds} interleaved rounds, median over rounds")
    print(f"{'variant':<14} {'wall s':>8} {'us/test':>9} {'ratio':>7}  us/test per round")
    print(f"{'plain':<14} {statistics.median(plain):>8.3f} {'-':>9} {'-':>7}")
    met = True
    for name in names[1:]:
        own = times[name]
        per_round = [(t - p) / tests * 1e6 for t, p in zip(own, plain, strict=True)]
        overhead_us = statistics.median(per_round)
        ratio = statistics.median(t / p for t, p in zip(own, plain, strict=True))
        spread = f"{min(per_round):.0f} .. {max(per_round):.0f}"
        print(
            f"{name:<14} {statistics.median(own):>8.3f} {overhead_us:>9.1f} {ratio:>7.3f}  {spread}"
        )
        if name == "--leaks" and (overhead_us > TARGET_US or ratio > TARGET_RATIO):
            met = False
    return met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=2000, help="number of generated tests")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--small", type=int, default=100, help="smaller suite (instructions)")
    parser.add_argument("--large", type=int, default=300, help="larger suite (instructions)")
    parser.add_argument("--time-runs", type=int, default=3, help="plain runs timed per size "
                        "with --instructions-only (the price of an instruction)")  # fmt: skip
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--no-instructions", action="store_true", help="wall time only")
    which.add_argument(
        "--instructions-only", action="store_true", help="instructions and the derived us only"
    )
    args = parser.parse_args(argv)

    wall_met: bool | None = None
    plain_time = 0.0
    if not args.instructions_only:
        times = wall_rounds(args.tests, args.rounds)
        wall_met = wall_table(times, args.tests, args.rounds)
        plain_time = statistics.median(times["plain"]) / args.tests
    derived: float | None = None
    if not args.no_instructions:
        if shutil.which("valgrind") is None:
            print("\ninstructions: valgrind is not installed (apt-get install valgrind); skipped")
        else:
            runs = args.time_runs if args.instructions_only else 0
            per_test, own_time = instruction_counts(args.small, args.large, runs)
            derived = instruction_table(
                per_test, own_time if args.instructions_only else plain_time, args.small, args.large
            )
    if derived is not None:
        met = derived <= TARGET_US
        print(
            f"\ntarget for --leaks: <= {TARGET_US:.0f} us/test, derived from instructions "
            f"({derived:.1f} us): {'met' if met else 'MISSED'}"
        )
    elif wall_met is not None:
        met = wall_met
        print(
            f"\ntarget for --leaks: <= {TARGET_US:.0f} us/test and ratio <= {TARGET_RATIO} "
            f"(wall time): {'met' if met else 'MISSED'}"
        )
    else:
        print("\nno figure to check the target against")
        return 2
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
