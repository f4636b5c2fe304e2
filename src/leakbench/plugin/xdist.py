"""What leakbench does for pytest-xdist: worker summaries, the controller's pid, and
options that cannot work with ``-n``.

``XdistMerge`` is registered (by ``leakbench.plugin.run_setup``) only when xdist is
installed (like pytest-randomly's xdist hooks), so xdist's hook specs exist when pytest
validates ours. Data goes
through xdist's own channels: the controller adds its pid to each worker's
``workerinput`` (the total-RSS guard measures the controller's process tree), and
each worker's session summary comes back in ``workeroutput`` when it finishes.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from leakbench.plugin.record import MEMORY_KEY, TestsRecord

__all__ = [
    "CONTROLLER_PID",
    "XdistMerge",
    "benchmark_conflict",
    "controller_pid",
    "is_distributing",
    "total_guard_conflict",
]

CONTROLLER_PID = "leakbench_controller_pid"
"""``workerinput`` key: the pid of the xdist controller."""

BENCHMARK_OPTIONS = (
    ("benchmark_only", "--benchmark-only"),
    ("benchmark_enable", "--benchmark-enable"),
    ("benchmark_json", "--benchmark-json"),
    ("benchmark_save", "--benchmark-save"),
    ("benchmark_autosave", "--benchmark-autosave"),
    ("benchmark_compare", "--benchmark-compare"),
    ("benchmark_compare_fail", "--benchmark-compare-fail"),
    ("benchmark_histogram", "--benchmark-histogram"),
)
"""pytest-benchmark options that ask for timings, which it never takes under xdist."""


class XdistMerge:
    """Controller side: pass our pid to the workers, collect their summaries."""

    def __init__(self, record: TestsRecord | None) -> None:
        self.record = record

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[CONTROLLER_PID] = os.getpid()

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        # A worker's shouldfail reaches the controller as shouldstop, which xdist
        # raises as an interruption (exit code 2). When the memory guard stopped the
        # run, a test failed: exit code 1, as without xdist.
        guarded = self.record is not None and any(
            rec.get("memory_guard") for rec in self.record.tests.values()
        )
        if guarded and session.exitstatus == pytest.ExitCode.INTERRUPTED:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_testnodedown(self, node: Any, error: object | None) -> None:
        if self.record is None:
            return
        output = getattr(node, "workeroutput", None) or {}
        worker = str(node.gateway.id)
        self.record.add_worker(worker, output.get(MEMORY_KEY), crashed=error is not None)


def controller_pid(config: pytest.Config) -> int:
    """Root of the run's process tree: the xdist controller, or this process.

    A worker on another machine (``--tx ssh=...``) is not the controller's child;
    ``total_guard_conflict`` refuses the total-RSS guard for those runs.
    """
    workerinput = getattr(config, "workerinput", None)
    if workerinput and CONTROLLER_PID in workerinput:
        pid = int(workerinput[CONTROLLER_PID])
        if pid == os.getppid():
            return pid
    return os.getpid()


def is_distributing(config: pytest.Config) -> bool:
    """The xdist controller of a run with workers (``-n N``, ``--dist``, ``--tx``)."""
    return not hasattr(config, "workerinput") and getattr(config.option, "dist", "no") not in (
        None,
        "no",
    )


def benchmark_conflict(config: pytest.Config) -> str | None:
    """Why pytest-benchmark's options cannot work in this xdist run, or None.

    pytest-benchmark disables itself whenever xdist distributes tests (even with
    ``--benchmark-enable``), so options asking for timings would time nothing and
    write nothing, with at most a warning at the very end.
    """
    if not is_distributing(config):
        return None
    given = [flag for dest, flag in BENCHMARK_OPTIONS if config.getoption(dest, None)]
    if not given:
        return None
    return (
        f"leakbench: {', '.join(given)} cannot work with pytest-xdist (-n/--dist): "
        "pytest-benchmark disables itself when xdist distributes tests and would time "
        "nothing. Run the benchmarks without xdist (-n 0 or -p no:xdist), and the rest of "
        "the suite with -n as before."
    )


def total_guard_conflict(config: pytest.Config) -> str | None:
    """Why ``--leaks-max-total-rss`` cannot work in this xdist run, or None.

    The total is the RSS of the controller's process tree; a worker started on
    another machine (``--tx ssh=...``, ``socket=...``) is not part of it.
    """
    if not is_distributing(config):
        return None
    remote = [spec for spec in getattr(config.option, "tx", None) or [] if "popen" not in spec]
    if not remote:
        return None
    return (
        f"leakbench: --leaks-max-total-rss needs local workers (-n N or --tx popen); "
        f"{', '.join(remote)} runs on another machine. Use --leaks-max-rss (per worker)."
    )
