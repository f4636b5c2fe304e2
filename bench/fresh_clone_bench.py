"""A new user's ``make bench`` on a fresh clone, on a busy machine: does it pass on unchanged code?

Each run clones this repository's HEAD into a temporary folder (no ``.venv``, no
``.leakbench``), starts ``--hogs`` CPU-bound processes, and runs ``make bench`` there exactly
as the README says (it creates ``.venv`` from the lock, then measures every scenario and
compares with the committed baseline). Then, in the same clone, ``leakbench compare --format
json`` of the run's results against that baseline gives each scenario's verdicts, so the
script can say how every wall time was judged and why (the table's own note).

    .venv/bin/python bench/fresh_clone_bench.py [--runs 3] [--hogs 2] [--keep]

Prints per run: wall time, ``make bench``'s exit code, the load, the verdict counts, the
largest instruction change, and every wall time that was not "ok" with its note. Exit 1 when
any run's ``make bench`` did not exit 0 (the claim: 3 of 3 runs exit 0 on unchanged code).
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
from typing import Any

from instructions_proof import hogs, load  # the same CPU hogs and load line as its proofs

ROOT = Path(__file__).resolve().parents[1]


def clean_env() -> dict[str, str]:
    """The caller's environment without this checkout's virtualenv or pytest options, so
    the clone's ``make`` builds and uses its own ``.venv``."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "VIRTUAL_ENV")}
    bin_dir = str(ROOT / ".venv" / "bin")
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != bin_dir)
    return env


def verdicts(clone: Path) -> dict[str, Any]:
    """``leakbench compare --format json`` of the clone's latest results and its baseline."""
    done = subprocess.run(
        [str(clone / ".venv" / "bin" / "python"), "-m", "leakbench", "compare", "--format", "json"],
        cwd=clone,
        capture_output=True,
        text=True,
        env=clean_env(),
    )
    if done.returncode not in (0, 1):
        return {"error": done.stderr.strip()}
    doc: dict[str, Any] = json.loads(done.stdout)
    return doc


def summarise(doc: dict[str, Any]) -> list[str]:
    if "error" in doc:
        return [f"  compare failed: {doc['error']}"]
    lines = [f"  verdicts: {doc['summary']}", f"  notes: {doc.get('notes')}"]
    worst = 0.0
    times: Counter[str] = Counter()
    for row in doc["scenarios"]:
        for m in row["metrics"]:
            if m["metric"] == "instructions" and m["change"] is not None:
                worst = max(worst, abs(m["change"]))
            if m["kind"] == "time" and m["verdict"] != "ok":
                times[f"{m['verdict']} ({m['note'] or 'no note'})"] += 1
    lines.append(f"  largest instructions change: {worst * 100:.2f}%")
    for what, count in sorted(times.items()):
        lines.append(f"  wall time {what}: {count} scenarios")
    return lines


def one_run(index: int, hog_count: int, keep: bool) -> int:
    folder = Path(tempfile.mkdtemp(prefix="leakbench-fresh-"))
    clone = folder / "leakbench"
    try:
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        start = time.monotonic()
        with hogs(hog_count):
            done = subprocess.run(
                ["make", "bench"], cwd=clone, env=clean_env(), capture_output=True, text=True
            )
            seconds = time.monotonic() - start
            end_load = load()
        tail = (done.stderr.strip().splitlines() or [""])[-1]
        print(
            f"run {index}: make bench exit {done.returncode}, {seconds / 60:.1f} min "
            f"(with .venv creation), {hog_count} hogs, load at end {end_load}"
            + (f"; last stderr line: {tail}" if done.returncode else ""),
            flush=True,
        )
        for line in summarise(verdicts(clone)):
            print(line, flush=True)
        return done.returncode
    finally:
        if keep:
            print(f"  kept {clone}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--hogs", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep each clone (for reading)")
    args = parser.parse_args()
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    print(f"fresh clones of {head}, load before: {load()}", flush=True)
    codes = [one_run(i + 1, args.hogs, args.keep) for i in range(args.runs)]
    passed = sum(code == 0 for code in codes)
    claim = "met" if passed == len(codes) else "MISSED"
    print(f"make bench exit 0 in {passed} of {len(codes)} runs: {claim}")
    return 0 if passed == len(codes) else 1


if __name__ == "__main__":
    sys.exit(main())
