"""Sample the memory of a process tree, and kill the tree: the measuring half of
``leakbench workers``.

The sum of RSS over a pytest process and all its descendants (the xdist controller, its
workers, whatever the tests spawn) at one instant is what the machine has to hold; its
maximum over a run is what a memory budget is checked against. Sampling reads ``/proc``
directly (children via ``/proc/<pid>/task/<tid>/children``, memory via
``/proc/<pid>/status``): psutil's ``children(recursive=True)`` scans every process on the
host (5-8 ms here), which at 10 samples a second would itself slow the run being timed.
Other systems fall back to psutil. ``children`` is also the one reader of those lists for
the plugin: the processes detector lists this process's children with it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import psutil

from leakbench._util import proc

__all__ = [
    "DEFAULT_INTERVAL",
    "Memory",
    "TreeSampler",
    "children",
    "kill_tree",
    "read_memory",
    "tree_parents",
    "tree_pids",
]

DEFAULT_INTERVAL = 0.1
"""Seconds between samples of the process tree: cheap (well under 1 ms a sample for a tree
of a dozen processes) and fine enough for suites whose tests hold memory for longer."""


def _proc() -> Path:
    """The ``/proc`` root (``leakbench._util.proc.PROC``, read at each call)."""
    return Path(proc.PROC)


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
        parents, readings = tree_memory(self.root)
        rss_total = swap_total = 0
        for pid, memory in readings.items():
            rss_total += memory.rss
            swap_total += memory.swap
            self.hwm[pid] = max(self.hwm.get(pid, 0), memory.hwm)
            if pid == self.root:
                self.controller_rss = max(self.controller_rss, memory.rss)
            elif pid not in self.seen:
                self.seen.append(pid)
        self.peak_rss = max(self.peak_rss, rss_total)
        self.tree_swap = max(self.tree_swap, swap_total)
        self.most_processes = max(self.most_processes, len(parents))
        self.swap_growth = max(self.swap_growth, _swap_used() - self._swap_start)
        if self.limit is not None and rss_total > self.limit:
            self.over_limit = True
            kill_tree(self.root, self.seen)


def _shares_parent_memory(memory: Memory, parent: Memory | None) -> bool:
    """A child caught between ``fork``/``vfork`` and ``exec`` still reports its parent's
    memory (with ``vfork``, which ``subprocess`` uses on Linux, it *is* the parent's), so
    summing it would count the parent twice: a pytest process of 127 MiB starting a small
    subprocess was measured at 254 MiB that way. Identical size, RSS and high-water mark
    is that case; a child that has exec'd or touched any memory of its own differs."""
    return parent is not None and (memory.rss, memory.hwm, memory.size) == (
        parent.rss,
        parent.hwm,
        parent.size,
    )


def tree_memory(root: int) -> tuple[dict[int, int | None], dict[int, Memory]]:
    """The tree's ``{pid: parent}`` and the memory of each process that owns its own.

    Processes that exited while being read and children still sharing their parent's
    memory (between fork and exec) are left out of the readings, so summing them never
    counts a process twice.
    """
    parents = tree_parents(root)
    raw = {pid: read_memory(pid) for pid in parents}
    readings: dict[int, Memory] = {}
    for pid, memory in raw.items():
        parent = parents[pid]
        parent_memory = raw.get(parent) if parent is not None else None
        if memory is not None and not _shares_parent_memory(memory, parent_memory):
            readings[pid] = memory
    return parents, readings


def tree_pids(root: int) -> list[int]:
    """``root`` and all its descendants (an empty list once ``root`` is gone)."""
    return list(tree_parents(root))


def tree_parents(root: int) -> dict[int, int | None]:
    """``{pid: parent pid}`` for ``root`` (parent None) and its descendants, root first."""
    if not (_proc() / str(root) / "task").is_dir():
        return dict.fromkeys(_psutil_tree(root))
    parents: dict[int, int | None] = {root: None}
    queue = [root]
    while queue:
        pid = queue.pop(0)
        found = children(pid)
        if found is None:  # a kernel without the children lists: psutil's scan instead
            return dict.fromkeys(_psutil_tree(root))
        for child in found:
            if child not in parents:
                parents[child] = pid
                queue.append(child)
    return parents


def children(pid: int | str = "self") -> list[int] | None:
    """Direct children of ``pid`` (default: this process), from the kernel's per-thread
    lists ``/proc/<pid>/task/<tid>/children`` (a child belongs to the thread that forked it).

    ``[]`` once the process is gone; None when ``/proc`` cannot tell: there is no ``/proc``
    (other systems), or the kernel lacks ``CONFIG_PROC_CHILDREN`` (a thread's directory
    exists, its ``children`` file does not). The caller then asks psutil. The files are read
    with ``os.open``/``os.read``, without pathlib's buffered text layer: the processes
    detector calls this on the per-test path (after a test that spawned something), where
    one call costs ~50 us.
    """
    task_dir = f"{proc.PROC}/{pid}/task"
    try:
        tids = os.listdir(task_dir)
    except OSError:
        return [] if os.path.isdir(proc.PROC) else None
    found: list[int] = []
    for tid in tids:
        try:
            fd = os.open(f"{task_dir}/{tid}/children", os.O_RDONLY)
        except FileNotFoundError:
            if os.path.isdir(f"{task_dir}/{tid}"):
                return None  # the thread exists, the file does not
            continue  # the thread (or the process) ended after listdir
        except OSError:
            continue
        try:
            chunks = []
            while chunk := os.read(fd, 65536):
                chunks.append(chunk)
        except OSError:
            continue
        finally:
            os.close(fd)
        found.extend(int(child) for child in b"".join(chunks).split())
    return found


def _psutil_tree(root: int) -> list[int]:
    try:
        process = psutil.Process(root)
        return [root, *(child.pid for child in process.children(recursive=True))]
    except psutil.Error:
        return []


class Memory(NamedTuple):
    """One process's memory in bytes, from ``/proc/<pid>/status``."""

    rss: int
    swap: int
    hwm: int
    """High-water mark of the RSS (``VmHWM``)."""
    size: int = 0
    """Virtual size (``VmSize``): only used to tell a not-yet-exec'd child from its parent."""


_STATUS_FIELDS = {"VmRSS:": 0, "VmSwap:": 1, "VmHWM:": 2, "VmSize:": 3}


def read_memory(pid: int) -> Memory | None:
    """The memory of ``pid``, or None if the process is gone (or a zombie)."""
    try:
        text = (_proc() / str(pid) / "status").read_text()
    except FileNotFoundError:
        return _psutil_memory(pid)
    except OSError:
        return None
    values = [0, 0, 0, 0]
    for line in text.splitlines():
        parts = line.split()
        if parts and parts[0] in _STATUS_FIELDS and len(parts) >= 2:
            values[_STATUS_FIELDS[parts[0]]] = int(parts[1]) * 1024
    if values[0] == 0:  # a zombie has no VmRSS line: it holds no memory either
        return None
    return Memory(values[0], values[1], max(values[2], values[0]), values[3])


def _psutil_memory(pid: int) -> Memory | None:
    if _proc().is_dir():  # Linux without this pid: the process is gone
        return None
    try:
        info = psutil.Process(pid).memory_info()
    except psutil.Error:
        return None
    return Memory(info.rss, 0, info.rss, info.vms)


def _swap_used() -> int:
    try:
        return int(psutil.swap_memory().used)
    except (OSError, RuntimeError):
        return 0
