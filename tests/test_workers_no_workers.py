"""``leakbench workers`` tries ``-n 0`` (no workers) by default and recommends it when it wins.

A user's small suite took 2.4 s at ``-n 0`` and 5.2 s at ``-n 1``, and was told to use
``-n 1`` because the default levels started at 1. The rule is tested on synthetic runs; the
default levels through the real command on a generated suite whose tests allocate 150 MiB
only inside an xdist worker, so ``-n 1`` goes over a 120 MB budget and ``-n 0`` does not,
whatever the machine's speed (no assertion depends on how long anything took).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leakbench.workers.choose import LevelSummary, default_levels, recommend, summarize
from leakbench.workers.run import Outcome, PytestRun
from test_workers_cli import INI, leakbench

GiB = 1024**3

WORKER_HEAVY_SUITE = """
import os
import time

def test_heavy_only_in_an_xdist_worker():
    if os.environ.get("PYTEST_XDIST_WORKER"):
        block = b"x" * (150 * 1024 * 1024)
        time.sleep(1.0)  # held long enough for the 0.1 s sampler to see it
        assert len(block)

def test_light():
    pass
"""


def _run(workers: int, seconds: float, peak: int = 100 * 1024**2) -> PytestRun:
    return PytestRun(
        workers=workers,
        outcome=Outcome.PASS,
        exit_code=0,
        seconds=seconds,
        peak_rss=peak,
        controller_rss=peak,
        swap=0,
        tree_swap=0,
        hwm_sum=peak,
        processes=1 + workers,
        summary="2 passed",
    )


def _levels(*runs: PytestRun) -> list[LevelSummary]:
    return summarize(runs, sorted({r.workers for r in runs}), GiB)


def test_the_default_levels_begin_with_no_workers() -> None:
    assert default_levels(1, 1) == [0, 1]
    assert default_levels(4, 2)[0] == 0


def test_no_workers_is_recommended_when_it_is_fastest_within_the_budget() -> None:
    choice = recommend(_levels(_run(0, 2.4), _run(1, 5.2), _run(2, 3.1)), "1 GiB")
    assert choice.workers == 0


def test_no_workers_over_the_budget_is_not_recommended_even_when_fastest() -> None:
    choice = recommend(_levels(_run(0, 2.4, peak=2 * GiB), _run(1, 5.2)), "1 GiB")
    assert choice.workers == 1
    assert "-n 0 was faster but over budget" in choice.reason


def test_the_command_tries_no_workers_by_default_and_recommends_it(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(test_worker_heavy=WORKER_HEAVY_SUITE)
    proc = leakbench(
        pytester.path,
        "--max", "1", "--repeat", "1", "--memory-budget", "120MB", "--json", "out.json",
        "--", "-q", "-p", "no:randomly",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(Path(pytester.path, "out.json").read_text())
    none, one = doc["levels"]
    assert (none["workers"], one["workers"]) == (0, 1)
    assert none["result"] == "pass" and none["runs"][0]["exit_code"] == 0
    assert one["over_budget"] and one["runs"][0]["outcome"] == "over budget"
    assert doc["recommendation"]["workers"] == 0
    assert "recommendation: -n 0" in proc.stdout
