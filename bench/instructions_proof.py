"""Proof that instructions per iteration gate on the code, not on the machine's load.

Run one part at a time (each prints its figures; exit 1 when a claim missed):

    .venv/bin/python bench/instructions_proof.py repeat [SCENARIO...] [--runs 5]
    .venv/bin/python bench/instructions_proof.py sensitivity [--runs 20]
    .venv/bin/python bench/instructions_proof.py change
    .venv/bin/python bench/instructions_proof.py waiting
    .venv/bin/python bench/instructions_proof.py costs [--base main]

- ``repeat``: every suite scenario's instruction pass (``leakbench.gate.measure.child.
  run_instruction_pass``, exactly as ``leakbench bench`` runs it) in ``--runs`` fresh
  processes alone, then ``--runs`` more with two CPU-bound processes running beside them;
  prints each scenario's instructions per iteration and spread ((max - min) / min) alone and
  under load, against the 0.5% target. Each round's figures are also written as a results
  document, and the real ``leakbench compare`` judges 20 pairs of rounds (alone vs alone,
  loaded vs loaded, alone vs loaded): the A/A claim is 0 regressions.
- ``sensitivity``: a proof scenario with a work knob (a pure-Python loop) measured by the real
  ``leakbench bench --time-only`` (instruction pass and wall-time pass), ``--runs`` times for
  each of the unchanged knob, +12% and +5% work, half of the runs with two CPU hogs; each
  compared with the real ``leakbench compare`` against an unchanged run: A/A 0 failures,
  +12% fails every time, +5% passes every time.
- ``change``: one real code change in a suite scenario: ``learning.clean``'s LRU cache lookup
  made linear (a scan of its entries instead of a dict lookup), in a copy of ``suites/``;
  both counted by the instruction pass and compared with ``leakbench compare``.
- ``waiting``: each suite scenario's probe process (the ``pair-time`` mode compare-branches
  runs once per side): the CPU share of its rounds' wall time, and whether that makes it
  waiting-dominated (judged in ABBA pairs by compare-branches).
- ``costs``: wall time of ``make bench`` and of ``leakbench compare-branches BASE`` run twice
  (the second reuses BASE's cache), on this repository.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from leakbench.gate.environment import fingerprint
from leakbench.gate.measure.child import run_instruction_pass, run_pair_process
from leakbench.gate.measure.spawn import default_cpu
from leakbench.gate.results import (
    Environment,
    InstructionsResult,
    Results,
    ScenarioResult,
    write_results,
)
from leakbench.gate.scenarios import discover, instruction_iterations_for, module_of, select
from leakbench.gate.verdicts.abba import WAITING_SHARE, cpu_share, waiting

ROOT = Path(__file__).resolve().parents[1]
TARGET = 0.005
LEAKBENCH = [sys.executable, "-m", "leakbench"]


@contextlib.contextmanager
def hogs(count: int) -> Iterator[None]:
    """``count`` CPU-bound processes running for the duration of the block."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS",)}


def compare_exit(base: Path, head: Path, cwd: Path) -> tuple[int, Any]:
    """``leakbench compare BASE HEAD --format json``: its exit code and document."""
    done = subprocess.run(
        [*LEAKBENCH, "compare", str(base), str(head), "--format", "json"],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=clean_env(),
    )
    if done.returncode not in (0, 1):
        sys.exit(f"leakbench compare failed ({done.returncode}): {done.stderr}")
    return done.returncode, json.loads(done.stdout)


def spread(values: Sequence[float]) -> float:
    return (max(values) - min(values)) / min(values) if min(values) > 0 else float("inf")


# --------------------------------------------------------------------------- repeat


def repeat(names: list[str], runs: int) -> int:
    scenarios = select(discover("suites", ROOT), names)
    rounds: list[tuple[str, dict[str, InstructionsResult]]] = []
    cost: dict[str, list[float]] = {s.name: [] for s in scenarios}
    start = time.monotonic()
    for loaded in (False, True):
        with hogs(2) if loaded else contextlib.nullcontext():
            for r in range(runs):
                label = f"{'loaded' if loaded else 'alone'} {r + 1}"
                got: dict[str, InstructionsResult] = {}
                for s in scenarios:
                    got[s.name] = run_instruction_pass(
                        s.name,
                        suites="suites",
                        root=ROOT,
                        iterations=instruction_iterations_for(s),
                        module=module_of(s),
                    )
                    cost[s.name].append(got[s.name].seconds)
                rounds.append((label, got))
                print(
                    f"round {label} done ({time.monotonic() - start:.0f} s, load {load()})",
                    flush=True,
                )
    env = fingerprint(ROOT)
    missed = 0
    print(
        f"\n{'scenario':28} {'N':>3} {'instructions/iter':>18} {'alone':>8} {'loaded':>8} "
        f"{'all 10':>8} {'s/process':>9}  target <= {TARGET:.1%}"
    )
    for s in scenarios:
        alone = [got[s.name].per_iteration for label, got in rounds if label.startswith("alone")]
        busy = [got[s.name].per_iteration for label, got in rounds if label.startswith("load")]
        if None in alone or None in busy:
            reasons = {got[s.name].reason for _, got in rounds if got[s.name].reason}
            print(f"{s.name:28} no figure: {'; '.join(reasons)}")
            missed += 1
            continue
        a = [float(x) for x in alone if x is not None]
        b = [float(x) for x in busy if x is not None]
        both = spread(a + b)
        ok = both <= TARGET
        missed += not ok
        print(
            f"{s.name:28} {instruction_iterations_for(s):>3} {statistics.median(a):>18,.0f} "
            f"{spread(a):>8.3%} {spread(b):>8.3%} {both:>8.3%} "
            f"{statistics.median(cost[s.name]):>9.1f}  {'ok' if ok else 'MISSED'}"
        )
    print(
        f"\n{len(scenarios)} scenarios, {runs} processes alone + {runs} beside two CPU hogs, "
        f"{time.monotonic() - start:.0f} s; within {TARGET:.1%}: "
        f"{len(scenarios) - missed} of {len(scenarios)}"
    )
    missed += aa_from_rounds(rounds, env, runs)
    return 1 if missed else 0


def aa_from_rounds(
    rounds: list[tuple[str, dict[str, InstructionsResult]]], env: Environment, runs: int
) -> int:
    """20 ``leakbench compare`` runs between rounds of unchanged code: 0 regressions wanted."""
    with tempfile.TemporaryDirectory(prefix="leakbench-aa-") as tmp:
        paths = []
        for i, (label, got) in enumerate(rounds):
            doc = Results(
                created=datetime.now(UTC).isoformat(timespec="seconds"),
                environment=env,
                scenarios={
                    n: ScenarioResult("x", "clean", False, instructions=c) for n, c in got.items()
                },
            )
            paths.append((label, write_results(doc, Path(tmp) / f"round-{i}.json")))
        n = len(paths)
        pairs = [(i, (i + 1) % n) for i in range(n)] + [(i, (i + runs) % n) for i in range(n)]
        regressions = failures = 0
        worst = 0.0
        for i, j in pairs[:20]:
            code, report = compare_exit(paths[i][1], paths[j][1], ROOT)
            failures += code == 1
            for row in report["scenarios"]:
                for m in row["metrics"]:
                    if m["metric"] == "instructions" and m["change"] is not None:
                        worst = max(worst, abs(float(m["change"])))
                    regressions += m["verdict"] == "regression"
        print(
            f"A/A: {len(pairs[:20])} `leakbench compare` runs between rounds of unchanged code "
            f"(half involving rounds beside two CPU hogs): {failures} exit 1, "
            f"{regressions} regressions; largest |change| of instructions {worst:.3%}"
        )
    return failures


# --------------------------------------------------------------------------- sensitivity

KNOB = '''\
"""A CPU-bound proof scenario with a work knob."""
from contextlib import contextmanager

from leakbench import Scenario

WORK = {work}


def _work():
    s = 0
    for i in range(WORK):
        s = (s + i * 7) % 65521


@contextmanager
def _session():
    yield _work


SCENARIOS = [
    Scenario("proof.knob", "proof", "clean", (), _session, bench_iterations=4,
             instruction_iterations=10),
]
'''
KNOB_WORK = 20_000


def knob_project(root: Path, work: int) -> None:
    (root / "proof_suites").mkdir(parents=True, exist_ok=True)
    (root / "proof_suites" / "__init__.py").write_text("")
    (root / "proof_suites" / "knob.py").write_text(KNOB.format(work=work))
    (root / "pyproject.toml").write_text('[project]\nname = "proof"\n')


def bench_knob(root: Path, work: int, out: Path) -> Path:
    knob_project(root, work)
    done = subprocess.run(
        [
            *LEAKBENCH,
            "bench",
            "--suites",
            "proof_suites",
            "--time-only",
            "--no-compare",
            "--time-processes",
            "2",
            "--time-budget",
            "0.4",
            "--out",
            str(out),
        ],
        cwd=root,
        capture_output=True,
        text=True,
        env=clean_env(),
    )
    if done.returncode != 0:
        sys.exit(f"leakbench bench failed: {done.stderr}")
    return out


def sensitivity(runs: int) -> int:
    start = time.monotonic()
    tally = {"A/A": [0, 0], "+12%": [0, 0], "+5%": [0, 0]}  # [exit 1, runs]
    changes: dict[str, list[float]] = {k: [] for k in tally}
    walls: dict[str, list[float]] = {k: [] for k in tally}
    with tempfile.TemporaryDirectory(prefix="leakbench-knob-") as tmp:
        root = Path(tmp)
        for r in range(runs):
            loaded = r % 2 == 1
            with hogs(2) if loaded else contextlib.nullcontext():
                base = bench_knob(root, KNOB_WORK, root / f"base-{r}.json")
                for kind, work in (
                    ("A/A", KNOB_WORK),
                    ("+12%", int(KNOB_WORK * 1.12)),
                    ("+5%", int(KNOB_WORK * 1.05)),
                ):
                    head = bench_knob(root, work, root / f"{kind[1:] or 'aa'}-{r}.json")
                    code, report = compare_exit(base, head, root)
                    tally[kind][0] += code == 1
                    tally[kind][1] += 1
                    (row,) = report["scenarios"]
                    rows = {m["metric"]: m for m in row["metrics"]}
                    changes[kind].append(float(rows["instructions"]["change"]))
                    if rows["time"]["change"] is not None:
                        walls[kind].append(float(rows["time"]["change"]))
            print(
                f"run {r + 1}/{runs} ({'two CPU hogs' if loaded else 'alone'}, load {load()}): "
                + ", ".join(f"{k} {changes[k][-1]:+.2%}" for k in tally),
                flush=True,
            )
    want = {"A/A": 0, "+12%": runs, "+5%": 0}
    ok = all(tally[k][0] == want[k] for k in tally)
    print(
        f"\nproof.knob ({KNOB_WORK} loop steps, 10 counted iterations), {runs} runs, half "
        f"beside two CPU hogs, {time.monotonic() - start:.0f} s:"
    )
    for kind, (failed, n) in tally.items():
        print(
            f"  {kind:5} failed {failed}/{n} (want {want[kind]}/{n}); instructions change "
            f"{min(changes[kind]):+.3%} .. {max(changes[kind]):+.3%}; wall-time change "
            f"{min(walls[kind]):+.1%} .. {max(walls[kind]):+.1%} (shown, never gating)"
        )
    print(f"claims: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


# --------------------------------------------------------------------------- change

LINEAR = (
    "        value = self._data.get(key)\n",
    "        value = next((v for k, v in self._data.items() if k == key), None)  # linear\n",
)


def change() -> int:
    with tempfile.TemporaryDirectory(prefix="leakbench-change-") as tmp:
        paths = {}
        for side in ("base", "head"):
            root = Path(tmp) / side
            shutil.copytree(ROOT / "suites", root / "suites")
            shutil.copytree(ROOT / "fixtures", root / "fixtures")
            if side == "head":
                module = root / "suites" / "learning.py"
                text = module.read_text()
                assert LINEAR[0] in text, "learning.py changed: update LINEAR"
                module.write_text(text.replace(LINEAR[0], LINEAR[1]))
            counted = run_instruction_pass(
                "learning.clean",
                suites="suites",
                root=root,
                iterations=20,
                module="suites.learning",
            )
            doc = Results(
                created=datetime.now(UTC).isoformat(timespec="seconds"),
                environment=fingerprint(ROOT),
                scenarios={
                    "learning.clean": ScenarioResult(
                        "learning", "clean", False, instructions=counted
                    )
                },
            )
            paths[side] = write_results(doc, Path(tmp) / f"{side}.json")
            print(f"{side}: {counted.per_iteration:,.0f} instructions per iteration", flush=True)
        code, report = compare_exit(paths["base"], paths["head"], ROOT)
        (only,) = report["scenarios"]
        row = next(m for m in only["metrics"] if m["metric"] == "instructions")
        print(
            f"learning.clean with its LRU lookup made linear: instructions {row['change']:+.1%}, "
            f"verdict {row['verdict']}, leakbench compare exit {code}"
        )
        return 0 if code == 1 else 1


# --------------------------------------------------------------------------- waiting


def waiting_shares() -> int:
    print(f"{'scenario':28} {'CPU share':>9} {'p10 round':>10}  judged by", flush=True)
    for s in discover("suites", ROOT).values():
        probe = run_pair_process(s.name, suites="suites", root=ROOT, plan=None, cpu=default_cpu())
        share = cpu_share(probe.rounds, probe.cpu_rounds)
        how = "ABBA pairs (waiting)" if waiting(probe.rounds, probe.cpu_rounds) else "instructions"
        p10 = sorted(probe.rounds)[len(probe.rounds) // 10]
        print(f"{s.name:28} {share or 0:>9.0%} {p10 * 1e3:>8.3f}ms  {how}", flush=True)
    print(f"(waiting-dominated below {WAITING_SHARE:.0%}; load {load()})")
    return 0


# --------------------------------------------------------------------------- costs


def timed(argv: list[str]) -> tuple[float, int]:
    start = time.monotonic()
    done = subprocess.run(
        argv, cwd=ROOT, env=clean_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return time.monotonic() - start, done.returncode


def costs(base: str) -> int:
    print(f"load before: {load()}", flush=True)
    seconds, code = timed(["make", "bench"])
    print(f"make bench: {seconds / 60:.1f} min, exit {code} (load {load()})", flush=True)
    shutil.rmtree(ROOT / ".leakbench" / "cache", ignore_errors=True)
    first, code1 = timed([*LEAKBENCH, "compare-branches", base])
    print(
        f"compare-branches {base} (no cache): {first / 60:.1f} min, exit {code1} (load {load()})",
        flush=True,
    )
    second, code2 = timed([*LEAKBENCH, "compare-branches", base])
    print(
        f"compare-branches {base} again (BASE cached): {second / 60:.1f} min, exit {code2} "
        f"(load {load()})"
    )
    met = seconds <= 600 and first <= 360 and second <= 180
    print(
        f"targets (make bench <= 10 min, compare-branches <= 6 min, again <= 3 min): "
        f"{'met' if met else 'MISSED'}"
    )
    return 0 if met else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="part", required=True)
    p = sub.add_parser("repeat")
    p.add_argument("names", nargs="*")
    p.add_argument("--runs", type=int, default=5)
    p = sub.add_parser("sensitivity")
    p.add_argument("--runs", type=int, default=20)
    sub.add_parser("change")
    sub.add_parser("waiting")
    p = sub.add_parser("costs")
    p.add_argument("--base", default="main")
    args = parser.parse_args()
    os.chdir(ROOT)
    if args.part == "repeat":
        return repeat(args.names, args.runs)
    if args.part == "sensitivity":
        return sensitivity(args.runs)
    if args.part == "change":
        return change()
    if args.part == "waiting":
        return waiting_shares()
    return costs(args.base)


if __name__ == "__main__":
    sys.exit(main())
