"""Sample the memory of a process tree, and kill the tree: the measuring half of
``leakbench workers``.

The sum of RSS over a pytest process and all its descendants (the xdist controller, its
workers, whatever the tests spawn) at one instant is what the machine has to hold; its
maximum over a run is what a memory budget is checked against. Sampling reads ``/proc``
directly (children via ``/proc/<pid>/task/<tid>/children``, memory via
``/proc/<pid>/status``): psutil's ``children(recursive=True)`` scans every process on the
host (5-8 ms here), which at 10 samples a second would itself slow the run being timed.
Other systems fall back to psutil.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

__all__ = ["DEFAULT_INTERVAL", "TreeSampler", "kill_tree", "read_memory", "tree_pids"]

DEFAULT_INTERVAL = 0.1
"""Seconds between samples of the process tree: cheap (well under 1 ms a sample for a tree
of a dozen processes) and fine enough for suites whose tests hold memory for longer."""

_PROC = Path("/proc")


def kill_tree(root: int, seen: Sequence[int] = ()) -> None:
    """SIGKILL the run's process group and every descendant seen by the sampler.

    The group catches workers started after the last sample; the list catches tests'
    children that started sessions of their own.
    """
    if hasattr(os, "killpg"):
        with contextlib.suppress(OSError):
            os.killpg(root, signal.SIGKILL)
    for pid in (root, *seen):
        with contextlib.suppress(psutil.Error):
            psutil.Process(pid).kill()


@dataclass
class TreeSampler:
    """Samples a process tree from a daemon thread; a context manager around the run.

    Keeps the peak of the summed RSS (and of the controller alone, of summed ``VmSwap``,
    of system swap growth) and each process's own high-water mark. With a ``limit``, the
    first sample above it kills the tree and sets ``over_limit``.
    """

    root: int
    interval: float = DEFAULT_INTERVAL
    limit: int | None = None
    peak_rss: int = 0
    controller_rss: int = 0
    tree_swap: int = 0
    swap_growth: int = 0
    most_processes: int = 0
    over_limit: bool = False
    hwm: dict[int, int] = field(default_factory=dict)
    seen: list[int] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _swap_start: int = 0

    def __enter__(self) -> TreeSampler:
        self._swap_start = _swap_used()
        self._thread = threading.Thread(target=self._loop, name="leakbench-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _loop(self) -> None:
        while True:
            self.sample()
            if self.over_limit or self._stop.wait(self.interval):
                return

    def sample(self) -> None:
        """Read the tree once and fold it into the peaks (public so tests can drive it)."""
        pids = tree_pids(self.root)
        rss_total = swap_total = 0
        for pid in pids:
            memory = read_memory(pid)
            if memory is None:
                continue
            rss, swap, hwm = memory
            rss_total += rss
            swap_total += swap
            self.hwm[pid] = max(self.hwm.get(pid, 0), hwm)
            if pid == self.root:
                self.controller_rss = max(self.controller_rss, rss)
            if pid not in self.seen and pid != self.root:
                self.seen.append(pid)
        self.peak_rss = max(self.peak_rss, rss_total)
        self.tree_swap = max(self.tree_swap, swap_total)
        self.most_processes = max(self.most_processes, len(pids))
        self.swap_growth = max(self.swap_growth, _swap_used() - self._swap_start)
        if self.limit is not None and rss_total > self.limit:
            self.over_limit = True
            kill_tree(self.root, self.seen)


def tree_pids(root: int) -> list[int]:
    """``root`` and all its descendants (an empty list once ``root`` is gone)."""
    if not (_PROC / str(root) / "task").is_dir():
        return _psutil_tree(root)
    pids = [root]
    index = 0
    while index < len(pids):
        pids.extend(p for p in _children(pids[index]) if p not in pids)
        index += 1
    return pids


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(_PROC / str(pid) / "task")
    except OSError:
        return found
    for tid in tasks:
        try:
            text = (_PROC / str(pid) / "task" / tid / "children").read_text()
        except OSError:
            continue
        found.extend(int(p) for p in text.split())
    return found


def _psutil_tree(root: int) -> list[int]:
    try:
        process = psutil.Process(root)
        return [root, *(child.pid for child in process.children(recursive=True))]
    except psutil.Error:
        return []


_STATUS_FIELDS = {"VmRSS:": 0, "VmSwap:": 1, "VmHWM:": 2}


def read_memory(pid: int) -> tuple[int, int, int] | None:
    """``(rss, swap, high-water mark)`` in bytes, or None if the process is gone."""
    try:
        text = (_PROC / str(pid) / "status").read_text()
    except FileNotFoundError:
        return _psutil_memory(pid)
    except OSError:
        return None
    values = [0, 0, 0]
    for line in text.splitlines():
        parts = line.split()
        if parts and parts[0] in _STATUS_FIELDS and len(parts) >= 2:
            values[_STATUS_FIELDS[parts[0]]] = int(parts[1]) * 1024
    if values[0] == 0:  # a zombie has no VmRSS line: it holds no memory either
        return None
    return values[0], values[1], max(values[2], values[0])


def _psutil_memory(pid: int) -> tuple[int, int, int] | None:
    if _PROC.is_dir():  # Linux without this pid: the process is gone
        return None
    try:
        rss = psutil.Process(pid).memory_info().rss
    except psutil.Error:
        return None
    return rss, 0, rss


def _swap_used() -> int:
    try:
        return int(psutil.swap_memory().used)
    except (OSError, RuntimeError):
        return 0
