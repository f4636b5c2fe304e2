"""The memory guard: is this worker, or are all workers together, over the limit?

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

This module decides; ``memory_watch`` acts (fails the test, stops the worker) and
``memory_report`` words the error.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from leakbench import rss

__all__ = ["TOTAL_INTERVAL", "Breach", "Limits", "MemoryGuard"]

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
        read_tree: Callable[[int], int] = rss.tree_rss,
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
