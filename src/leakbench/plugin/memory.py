"""Per-test RSS and the memory guard: readings around each test, limits, the decision.

The guard asks: is this worker, or are all workers together, over the limit?
``--leaks-max-rss`` bounds the RSS of each process that runs tests (each xdist
worker, or the one pytest process); ``--leaks-max-total-rss`` bounds the RSS of
the whole run: the xdist controller and every process below it (workers and
whatever the tests spawned). Each worker checks the total itself, from the
controller's pid (passed through ``workerinput``), so no extra process or channel
is needed. The total costs ~100 us to read, so it is read once per
``TOTAL_INTERVAL`` seconds, and sooner when this worker's own growth since the
last reading, times the number of workers, would take the total over the limit
(fast tests that each grab memory must not outrun the clock). The per-worker
limit is checked after every test, from the RSS that per-test accounting reads
anyway.

``MemoryGuard`` decides; ``TestMemory`` acts (fails the test, stops the worker) and
``leakbench.plugin.text`` words the error.

Memory accounting runs in every process that runs tests. ``WorkerMemory`` costs
nothing per test: it reads this process's RSS when the session starts and its RSS and
high-water mark when it ends, and hands that summary to the xdist controller through
``workeroutput`` (or to the local ``TestsRecord``). ``TestMemory`` is registered only
with ``--leaks-rss`` or a memory guard, and reads a few numbers around each test: before
setup the RSS (and, with ``--leaks-rss``, a reset of the high-water mark through
``/proc/self/clear_refs``), after the last teardown the RSS and the high-water mark.
That is ~6 us per test here. The readings (``rss_before``, ``rss_after``, ``peak_rss``,
``rss_growth``, the guard's message) travel on the teardown report (attribute
``leakbench_memory``) like the leak records do, and the tests record
(``leakbench.plugin.record``) writes them all to the results file.

When a guard limit is exceeded after a test, that test's teardown report becomes
a failure naming the test, the RSS, the limit and the tests that grew this
process most, and ``session.shouldfail`` is set: pytest stops after this test
(exit code 1); an xdist worker leaves its loop, and the controller, seeing the
worker's ``shouldfail``, stops giving out tests and ends the run with the report.
Restarting the worker instead (xdist's ``--max-worker-restart``) is not used:
xdist 3.8 restarts only crashed workers, and blames the test queued next on a
crashed worker (it never ran) as "crashed".
"""

from __future__ import annotations

import contextlib
import heapq
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from leakbench._util import proc
from leakbench._util.proc import SelfMemory
from leakbench.plugin.record import MAIN_WORKER, MEMORY_ATTR, MEMORY_KEY
from leakbench.plugin.text import guard_message, guard_reason

__all__ = ["TOTAL_INTERVAL", "Breach", "Limits", "MemoryGuard", "TestMemory", "WorkerMemory"]

TOTAL_INTERVAL = 0.25
"""Seconds between two readings of the whole tree's RSS."""


@dataclass(frozen=True)
class Limits:
    """Resolved limits in bytes, with the text the user gave (for the error)."""

    max_rss: int | None = None
    max_rss_text: str = ""
    max_total_rss: int | None = None
    max_total_rss_text: str = ""

    @property
    def active(self) -> bool:
        return self.max_rss is not None or self.max_total_rss is not None


@dataclass(frozen=True)
class Breach:
    """A limit found exceeded after a test."""

    scope: str
    """``worker`` (``--leaks-max-rss``) or ``total`` (``--leaks-max-total-rss``)."""
    rss: int
    limit: int
    option: str
    """The option and value as given, e.g. ``--leaks-max-rss=1GB``."""


class MemoryGuard:
    """Compares RSS readings with the limits; reads the tree's total when due."""

    def __init__(
        self,
        limits: Limits,
        tree_root: int,
        *,
        workers: int = 1,
        interval: float = TOTAL_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        read_tree: Callable[[int], int] = proc.tree_rss,
    ) -> None:
        self.limits = limits
        self.tree_root = tree_root
        """Pid whose process tree the total limit covers (the xdist controller)."""
        self._interval = interval
        self._clock = clock
        self._read_tree = read_tree
        self._workers = max(1, workers)
        self._next_total = 0.0
        self._last_total = 0
        self._rss_at_last_total = 0

    def check(self, worker_rss: int) -> Breach | None:
        """The first limit exceeded now, given this process's current RSS."""
        limits = self.limits
        if limits.max_rss is not None and worker_rss > limits.max_rss:
            return Breach("worker", worker_rss, limits.max_rss, limits.max_rss_text)
        if limits.max_total_rss is None:
            return None
        now = self._clock()
        grown = max(0, worker_rss - self._rss_at_last_total) * self._workers
        if now < self._next_total and self._last_total + grown <= limits.max_total_rss:
            return None
        self._next_total = now + self._interval
        total = self._read_tree(self.tree_root)
        self._last_total, self._rss_at_last_total = total, worker_rss
        if total > limits.max_total_rss:
            return Breach("total", total, limits.max_total_rss, limits.max_total_rss_text)
        return None


TOP_KEPT = 10
"""Largest per-test growths kept for the guard's error."""


class WorkerMemory:
    """Start, end and peak RSS of this process over the session."""

    def __init__(self, probe: SelfMemory) -> None:
        self.probe = probe
        self.start_rss = probe.rss()
        self.max_peak = self.start_rss
        """Largest peak seen by per-test accounting (which resets the high-water mark)."""

    def summary(self) -> dict[str, int]:
        rss, peak = self.probe.rss_and_peak()
        return {
            "start_rss": self.start_rss,
            "end_rss": rss,
            "peak_rss": max(peak, self.max_peak, rss),
        }

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        output = getattr(session.config, "workeroutput", None)
        if output is not None:  # an xdist worker: xdist sends this to the controller
            with contextlib.suppress(OSError, ValueError):
                output[MEMORY_KEY] = self.summary()


class TestMemory:
    """Reads RSS around each test; fails the test and stops when a guard limit is hit."""

    __test__ = False  # not a test class, whatever pytest's name rules say

    def __init__(
        self, worker: WorkerMemory, worker_id: str, per_test_peak: bool, guard: MemoryGuard | None
    ) -> None:
        self.worker = worker
        self.probe = worker.probe
        self.who = "this pytest process" if worker_id == MAIN_WORKER else f"worker {worker_id}"
        self.reset = per_test_peak and self.probe.can_reset_peak
        self.per_test_peak = per_test_peak
        self.guard = guard
        self.top: list[tuple[int, int, str]] = []
        """Min-heap of the largest (growth, -sequence, test id): ties list earlier tests first."""
        self._count = 0
        self._nodeid = ""
        self._before = 0
        self._reading: dict[str, Any] | None = None

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        # Before setup: fixtures' memory counts for the test, like leaks do.
        self._reading = None
        self._nodeid = nodeid
        try:
            if self.reset:
                self.probe.reset_peak()
            self._before = self.probe.rss()
        except (OSError, ValueError):
            self._nodeid = ""

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        # trylast: after every fixture finalizer of the test.
        if item.nodeid != self._nodeid:
            return
        try:
            self._reading = self._measure(item)
        except (OSError, ValueError):
            self._reading = None

    def _measure(self, item: pytest.Item) -> dict[str, Any]:
        before = self._before
        if self.per_test_peak:
            after, peak = self.probe.rss_and_peak()
            if not self.reset:
                peak = max(before, after)
        else:
            after = self.probe.rss()
            peak = max(before, after)
        growth = after - before
        self._count += 1
        entry = (growth, -self._count, item.nodeid)
        if len(self.top) < TOP_KEPT:
            heapq.heappush(self.top, entry)
        elif entry > self.top[0]:
            heapq.heapreplace(self.top, entry)
        self.worker.max_peak = max(self.worker.max_peak, peak)
        reading: dict[str, Any] = {
            "rss_before": before,
            "rss_after": after,
            "peak_rss": peak if self.per_test_peak else None,
            "rss_growth": growth,
            "guard": None,
        }
        breach = self.guard.check(after) if self.guard is not None else None
        if breach is not None:
            top = [(grown, nodeid) for grown, _, nodeid in sorted(self.top, reverse=True)]
            reading["guard"] = guard_message(item.nodeid, self.who, breach, top)
            item.session.shouldfail = guard_reason(self.who, breach)
        return reading

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # tryfirst: the guard's failure must be in the report before the terminal,
        # junitxml or xdist read it.
        reading = self._reading
        if reading is None or report.when != "teardown" or report.nodeid != self._nodeid:
            return
        self._reading = None
        setattr(report, MEMORY_ATTR, reading)
        message = reading["guard"]
        if message:
            if report.passed:
                report.outcome = "failed"
                report.longrepr = message
            else:
                report.sections.append(("leakbench memory guard", message))
