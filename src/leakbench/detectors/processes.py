"""Child processes still running, or exited and never waited for, after the test.

An un-waited ``Popen`` leaks twice: while it runs it holds its pipes and whatever
it works on, and once it exits it stays a zombie in the process table until
someone calls ``wait()``. Listing children costs ~50 us per scan of
``/proc/self/task/*/children`` and ~1 ms through psutil where that file does not
exist (kernels without ``CONFIG_PROC_CHILDREN``), too much for every test. A test
can only create a child by spawning one, which the audit hook in
``leakbench.detectors.activity`` counts, so the list is rescanned only when that count moved
since the last scan; otherwise the cached list is the answer. Children spawned
behind Python's back (a C library calling ``fork()`` itself) are therefore only
seen at the next scan that something else triggers.
"""

from __future__ import annotations

import os

from leakbench.detectors import activity, origins
from leakbench.detectors.base import AllowFn, Detector, DetectorConfig, wait_until
from leakbench.detectors.leak import Leak

GONE = ""
"""State of a child that no longer exists (reaped by its owner)."""
_EXITED = frozenset({"Z", "X", "x", GONE})


def read_stat(pid: int) -> tuple[str, str]:
    """``(comm, state)`` of ``pid`` from ``/proc/<pid>/stat``; state '' when gone."""
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY)
    except OSError:
        return _psutil_stat(pid)
    try:
        data = os.read(fd, 1024).decode(errors="replace")
    except OSError:
        return "", GONE
    finally:
        os.close(fd)
    # "1234 (name with spaces) S 1 ...": the name ends at the last parenthesis.
    head, _, tail = data.rpartition(")")
    comm = head.partition("(")[2]
    fields = tail.split()
    return comm, fields[0] if fields else GONE


def _psutil_stat(pid: int) -> tuple[str, str]:
    if os.path.isdir("/proc"):
        return "", GONE  # /proc exists, so the pid does not
    try:
        import psutil

        proc = psutil.Process(pid)
        status = proc.status()
        return proc.name(), "Z" if status == psutil.STATUS_ZOMBIE else "R"
    except Exception:
        return "", GONE


def read_cmdline(pid: int) -> str:
    """The command line of a running child; '' for zombies (the kernel drops it)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            raw = fh.read()
    except OSError:
        try:
            import psutil

            return " ".join(psutil.Process(pid).cmdline())
        except Exception:
            return ""
    return " ".join(arg.decode(errors="replace") for arg in raw.split(b"\0") if arg)


def _children_from_proc(tids: list[str]) -> set[int] | None:
    """Direct children listed by every thread; None when the kernel lacks the file."""
    pids: set[int] = set()
    for tid in tids:
        try:
            fd = os.open(f"/proc/self/task/{tid}/children", os.O_RDONLY)
        except FileNotFoundError:
            if os.path.isdir(f"/proc/self/task/{tid}"):
                return None  # the thread exists, the file does not
            continue  # the thread ended between listdir and open
        except OSError:
            continue
        try:
            chunks = []
            while chunk := os.read(fd, 65536):
                chunks.append(chunk)
        finally:
            os.close(fd)
        pids.update(int(pid) for pid in b"".join(chunks).split())
    return pids


def list_children(use_proc: bool = True) -> tuple[set[int], bool]:
    """Direct children of this process, and whether ``/proc`` could list them."""
    if use_proc:
        try:
            tids = os.listdir("/proc/self/task")
        except OSError:
            tids = []
        if tids:
            pids = _children_from_proc(tids)
            if pids is not None:
                return pids, True
    import psutil

    return {child.pid for child in psutil.Process().children()}, False


class ProcessesDetector(Detector[frozenset[int]]):
    name = "processes"
    description = "child processes still running or never waited for after teardown"

    def __init__(self, config: DetectorConfig) -> None:
        super().__init__(config)
        self._children: frozenset[int] = frozenset()
        self._scanned_at = -1
        """``activity.counters.spawns`` when ``_children`` was read; -1: never."""
        self._use_proc = True
        self.scans = 0
        """How many times the children were actually listed (for tests and tuning)."""

    def current(self) -> frozenset[int]:
        """Children now: a rescan only if something was spawned since the last one."""
        counters = activity.counters
        if counters.enabled and counters.spawns == self._scanned_at:
            return self._children
        spawns = counters.spawns  # read first: a spawn during the scan forces another
        pids, self._use_proc = list_children(self._use_proc)
        self._children = frozenset(pids)
        self._scanned_at = spawns if counters.enabled else -1
        self.scans += 1
        return self._children

    def snapshot(self) -> frozenset[int]:
        return self.current()

    def find(self, baseline: frozenset[int], allowed: AllowFn) -> list[Leak]:
        new = [pid for pid in self.current() if pid not in baseline]
        if not new:
            return []
        states = {pid: read_stat(pid) for pid in new}
        found = [
            pid
            for pid, (comm, state) in states.items()
            if state != GONE and not allowed(self._describe(pid, comm, state, with_stack=False))
        ]
        if not found:
            return []
        running = [pid for pid in found if states[pid][1] not in _EXITED]
        if running:
            # A child that is finishing is not a leak once its owner reaps it.
            wait_until(
                lambda: all(read_stat(pid)[1] in _EXITED for pid in running), self.config.grace
            )
            exited = [pid for pid in running if read_stat(pid)[1] in ("Z", "X", "x")]
            if exited:  # its owner (a watcher thread, a wait() elsewhere) may be reaping it now
                wait_until(
                    lambda: all(read_stat(pid)[1] == GONE for pid in exited),
                    min(0.05, self.config.grace),
                )
        leaks = []
        for pid in sorted(found):
            comm, state = read_stat(pid)
            if state != GONE:
                leaks.append(self._describe(pid, comm, state, with_stack=True))
        return leaks

    def _describe(self, pid: int, comm: str, state: str, with_stack: bool) -> Leak:
        zombie = state in ("Z", "X", "x")
        cmdline = "" if zombie else read_cmdline(pid)
        shown = cmdline or comm or "?"
        if zombie:
            summary = (
                f"process {pid} ({shown}) exited but was never waited for "
                "(a zombie: call wait() or use 'with Popen(...)')"
            )
        else:
            summary = f"process {pid} ({shown}) is still running"
        details: list[str] = []
        if with_stack:
            details = origins.stack_details("started at", origins.process_origin(pid))
        keys: tuple[str, ...] = tuple(dict.fromkeys(k for k in (cmdline, comm) if k))
        return Leak(kind=self.name, summary=summary, details=tuple(details), keys=keys)
