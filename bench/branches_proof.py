"""Proof that ``leakbench compare-branches`` neither cries wolf nor misses real regressions.

Builds a throwaway git repository (a copy of ``suites/`` and ``fixtures/``, a minimal
``pyproject.toml`` and one extra suite module, ``suites/proof.py``, with a cheap CPU-bound
scenario and a clean memory scenario), commits it as ``base`` and makes three branches with an
injected change: ``slow30`` (the CPU scenario does 30% more work), ``slow10`` (10% more) and
``leak`` (the clean scenario keeps 4 KiB per iteration). Then it counts verdicts over N runs:

- A/A: ``compare-branches base`` on the unchanged working tree: must never FAIL; the same N
  A/A pairs are also judged the way a naive CI job would, by two separate pytest-benchmark
  runs and ``--benchmark-compare-fail=mean:10%``, for contrast;
- ``slow30``: must FAIL in at least 19 of 20 runs;
- ``slow10``: must never be a confident PASS (inconclusive or FAIL are honest answers);
- ``leak``: the memory pass must FAIL every time.

Why a CPU-bound scenario for the time claims: it costs ~1 ms and nothing but the interpreter,
so the proof runs in minutes anywhere; I/O-bound scenarios only add noise that the interval
then (correctly) reports as inconclusive.

Run: ``.venv/bin/python bench/branches_proof.py [--runs N]`` (about 40 s per run of the four
kinds on a 2-core machine). The figures in docs/ci.md come from this script.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
WORK = 20000

PROOF = '''"""Scenarios for bench/branches_proof.py (not part of the real suites)."""
from contextlib import contextmanager

from leakbench import Scenario

WORK = {work}
RETAIN = {retain}
KEPT = []


def cpu():
    total = 0
    for i in range(WORK):
        total += i * i


def clean():
    buf = [bytes(64) for _ in range(32)]
    del buf
    if RETAIN:
        KEPT.append(bytearray(RETAIN))


@contextmanager
def cpu_session():
    yield cpu


@contextmanager
def clean_session():
    yield clean
    KEPT.clear()


SCENARIOS = [
    Scenario(name="proof.cpu", leak_class="proof", variant="clean", detectors=(),
             session=cpu_session, bench_iterations=10),
    Scenario(name="proof.clean", leak_class="proof", variant="clean", detectors=(),
             session=clean_session, bench_iterations=50),
]
'''

BENCH_TEST = """from suites.proof import cpu


def test_cpu(benchmark):
    benchmark(cpu)
"""

GIT_ENV = {
    "GIT_AUTHOR_NAME": "proof",
    "GIT_AUTHOR_EMAIL": "proof@example.com",
    "GIT_COMMITTER_NAME": "proof",
    "GIT_COMMITTER_EMAIL": "proof@example.com",
}


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, env={**os.environ, **GIT_ENV}, check=True,
                   capture_output=True)  # fmt: skip


def build(root: Path) -> Path:
    """The throwaway repo with a ``base`` commit and the three changed branches."""
    repo = root / "repo"
    repo.mkdir()
    for name in ("suites", "fixtures"):
        shutil.copytree(HERE / name, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
    (repo / "pyproject.toml").write_text('[project]\nname = "proof"\nversion = "0"\n')
    (repo / "bench_test.py").write_text(BENCH_TEST)
    (repo / "suites" / "proof.py").write_text(PROOF.format(work=WORK, retain=0))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    git(repo, "tag", "base")
    for branch, work, retain in (("slow30", int(WORK * 1.3), 0), ("slow10", int(WORK * 1.1), 0),
                                 ("leak", WORK, 4096)):  # fmt: skip
        git(repo, "checkout", "-q", "-b", branch, "base")
        (repo / "suites" / "proof.py").write_text(PROOF.format(work=work, retain=retain))
        git(repo, "commit", "-qam", branch)
    git(repo, "checkout", "-q", "main")
    return repo


def compare(repo: Path, head: str | None, scenario: str, *extra: str) -> tuple[str, int, str]:
    """(verdict of the gated metric that decides, exit code, interval text) of one run."""
    heads = [head] if head else []
    args = [sys.executable, "-m", "leakbench", "compare-branches", "base", *heads,
            "-s", scenario, "--format", "json", *extra]  # fmt: skip
    done = subprocess.run(args, cwd=repo, capture_output=True, text=True)
    if done.returncode == 2:
        raise SystemExit(f"compare-branches failed: {done.stderr.strip()}")
    doc = json.loads(done.stdout)
    metrics = doc["scenarios"][0]["metrics"]  # most severe first
    timed = [m for m in metrics if m["metric"] == "time"]
    metric = timed[0] if timed else metrics[0]
    interval = metric.get("interval") or []
    text = f"[{interval[0]:+.1%}, {interval[1]:+.1%}]" if interval else ""
    return metric["verdict"], done.returncode, text


def pytest_benchmark_pair(repo: Path, storage: Path) -> bool:
    """Two separate pytest-benchmark runs of unchanged code; True when the gate fails."""
    base = [sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "-p", "no:leakbench",
            "-p", "no:randomly", "-o", "addopts=", "bench_test.py",
            f"--benchmark-storage=file://{storage}"]  # fmt: skip
    shutil.rmtree(storage, ignore_errors=True)
    subprocess.run([*base, "--benchmark-save=a"], cwd=repo, capture_output=True, check=True)
    done = subprocess.run([*base, "--benchmark-compare", "--benchmark-compare-fail=mean:10%"],
                          cwd=repo, capture_output=True, text=True)  # fmt: skip
    return done.returncode != 0


def main() -> None:
    """Run the four kinds N times each and print the counts (and a verdict per claim)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs per kind (default 20)")
    parser.add_argument("--max-time", default="15", help="compare-branches --max-time")
    parser.add_argument("--round-statistic", default="p10", choices=("p10", "median"))
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="leakbench-proof-") as tmp:
        repo = build(Path(tmp))
        # --no-instructions: this proves the ABBA pairs themselves (what waiting-dominated
        # scenarios and runs without Valgrind get); bench/instructions_proof.py proves counts.
        time_opts = ("--time-only", "--no-instructions", "--max-time", args.max_time,
                     "--round-statistic", args.round_statistic)  # fmt: skip
        kinds = {
            "A/A (base vs itself)": (None, "proof.cpu", time_opts),
            "+30% CPU (slow30)": ("slow30", "proof.cpu", time_opts),
            "+10% CPU (slow10)": ("slow10", "proof.cpu", time_opts),
            "memory leak (leak)": ("leak", "proof.clean", ("--memory-only",)),
        }
        counts: dict[str, Counter[str]] = {}
        naive_fails = 0
        for kind, (head, scenario, extra) in kinds.items():
            counts[kind] = Counter()
            for i in range(args.runs):
                verdict, code, interval = compare(repo, head, scenario, *extra)
                counts[kind][verdict] += 1
                print(f"{kind:24} run {i + 1:2}: {verdict:12} exit {code} {interval}", flush=True)
                if head is None:
                    naive_fails += pytest_benchmark_pair(repo, Path(tmp) / "pb")
        n = args.runs
        print(f"\nN = {n} runs per kind, round statistic {args.round_statistic}, "
              f"{time.monotonic() - started:.0f} s")  # fmt: skip
        for kind, c in counts.items():
            print(f"{kind:24} " + ", ".join(f"{v}: {k}" for v, k in sorted(c.items())))
        print(f"pytest-benchmark --benchmark-compare-fail=mean:10% on the A/A pairs: "
              f"{naive_fails}/{n} FAIL")  # fmt: skip
        checks = {
            "A/A: zero FAIL": counts["A/A (base vs itself)"]["regression"] == 0,
            "+30%: FAIL in >= 95%": counts["+30% CPU (slow30)"]["regression"] >= 0.95 * n,
            "+10%: never PASS": counts["+10% CPU (slow10)"]["ok"] == 0,
            "leak: FAIL every time": counts["memory leak (leak)"]["regression"] == n,
        }
        for claim, ok in checks.items():
            print(f"{'ok  ' if ok else 'FAIL'} {claim}")
        raise SystemExit(0 if all(checks.values()) else 1)


if __name__ == "__main__":
    main()
