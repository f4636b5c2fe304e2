"""What ``pytest --leaks`` costs per test in CPU time: a benchmark, not a test.

Like ``bench/overhead.py`` (the same generated suite of trivial tests, plain ``pytest``
against ``pytest --leaks``, interleaved rounds with the order rotated), but each run is
measured by the CPU time (user + system) its process used, read with
``getrusage(RUSAGE_CHILDREN)``, instead of wall time. On a shared machine whose other
processes load the cores, wall time mostly measures them; CPU time of the pytest
process is what the plugin adds. ``--compare-src DIR`` adds a variant running
``--leaks`` with another checkout's ``src`` first on ``PYTHONPATH`` (for example the
code before a change, from ``git clone``).

    .venv/bin/python bench/overhead_cpu.py [--tests 2000] [--rounds 7] [--compare-src DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from overhead import COMMON, generate  # the same suite and options

TARGET_US = 100.0


def cpu_of_run(root: Path, extra: tuple[str, ...], tests: int, pythonpath: str | None) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "LEAKBENCH_LEAKS")}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    cmd = [sys.executable, "-m", "pytest", *COMMON, *extra, "."]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0 or f"{tests} passed" not in proc.stdout:
        sys.exit(f"{' '.join(cmd)} failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--compare-src", default=None, help="another checkout's src folder")
    args = parser.parse_args(argv)

    variants: dict[str, tuple[tuple[str, ...], str | None]] = {
        "plain": ((), None),
        "--leaks": (("--leaks",), None),
    }
    if args.compare_src:
        variants["--leaks (compare-src)"] = (("--leaks",), args.compare_src)
    names = list(variants)
    times: dict[str, list[float]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory(prefix="leakbench-overhead-cpu-") as tmp:
        root = Path(tmp)
        generate(root, args.tests)
        for name in names:  # warm-up
            cpu_of_run(root, variants[name][0], args.tests, variants[name][1])
        for round_no in range(args.rounds):
            order = names[round_no % len(names) :] + names[: round_no % len(names)]
            for name in order:
                extra, path = variants[name]
                times[name].append(cpu_of_run(root, extra, args.tests, path))
            print(
                f"round {round_no + 1}/{args.rounds}: "
                + "  ".join(f"{n} {times[n][-1]:.3f}s" for n in names),
                flush=True,
            )
    plain = times["plain"]
    print(f"\n{args.tests} trivial tests, {args.rounds} interleaved rounds, CPU s of pytest")
    print(f"{'variant':<24}{'cpu s':>8}{'us/test':>10}{'ratio':>8}  us/test per round")
    for name in names:
        median = statistics.median(times[name])
        if name == "plain":
            print(f"{name:<24}{median:>8.3f}{'-':>10}{'-':>8}")
            continue
        per_round = [(t - p) / args.tests * 1e6 for t, p in zip(times[name], plain, strict=True)]
        us = statistics.median(per_round)
        ratio = statistics.median(t / p for t, p in zip(times[name], plain, strict=True))
        print(
            f"{name:<24}{median:>8.3f}{us:>10.1f}{ratio:>8.3f}  "
            f"{min(per_round):.0f} .. {max(per_round):.0f}"
        )
    us_leaks = statistics.median(
        (t - p) / args.tests * 1e6 for t, p in zip(times["--leaks"], plain, strict=True)
    )
    verdict = "met" if us_leaks <= TARGET_US else "NOT met"
    print(f"\ntarget for --leaks: <= {TARGET_US:.0f} us/test of CPU: {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
