"""Child processes still running, or exited and never waited for, after the test.

An un-waited ``Popen`` leaks twice: while it runs it holds its pipes and whatever
it works on, and once it exits it stays a zombie in the process table until
someone calls ``wait()``. Listing children (``leakbench._util.process_tree.children``)
costs ~50 us per scan of ``/proc/self/task/*/children`` and ~1 ms through psutil where
that file does not exist (kernels without ``CONFIG_PROC_CHILDREN``), too much for every
test. A test can only create a child by spawning one, which the audit hook in
``leakbench.detectors.activity`` counts, so the list is rescanned only when that count
moved since the last scan; otherwise the cached list is the answer. Children spawned
behind Python's back (a C library calling ``fork()`` itself) are therefore only
seen at the next scan that something else triggers.

A new child is read (``/proc/<pid>/stat`` and ``cmdline``) before the allow-list is
consulted. ``Popen`` returns while the kernel is still finishing the child's exec, and
for that moment its command line reads empty and its name is the parent's: such a child
is read again once its exec is done, so that a pattern like ``processes:sleep *``
matches it. The grace period is spent only on children that are neither allowed nor
exited.

Ownership: a child whose pid a library's module state holds (a singleton bound to a
module global, such as multiprocessing's resource tracker or fork server, started
once per process by whichever test first needs it) is that module's, not the test's
(``leakbench.detectors.ownership``).
"""

from __future__ import annotations

import os
from typing import NamedTuple

from leakbench._util import proc
from leakbench._util.process_tree import children as proc_children
from leakbench.detectors import activity, origins, ownership
from leakbench.detectors.base import AllowFn, Detector, DetectorConfig, wait_until
from leakbench.detectors.leak import Leak

GONE = ""
"""State of a child that no longer exists (reaped by its owner)."""
_EXITED = frozenset({"Z", "X", "x", GONE})


def read_stat(pid: int) -> tuple[str, str]:
    """``(comm, state)`` of ``pid`` from ``/proc/<pid>/stat``; state '' when gone."""
    try:
        fd = os.open(f"{proc.PROC}/{pid}/stat", os.O_RDONLY)
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
    if os.path.isdir(proc.PROC):
        return "", GONE  # /proc exists, so the pid does not
    try:
        import psutil

        process = psutil.Process(pid)
        status = process.status()
        return process.name(), "Z" if status == psutil.STATUS_ZOMBIE else "R"
    except Exception:
        return "", GONE


def read_cmdline(pid: int) -> str:
    """The command line of a running child; '' for zombies (the kernel drops it)."""
    try:
        with open(f"{proc.PROC}/{pid}/cmdline", "rb") as fh:
            raw = fh.read()
    except OSError:
        try:
            import psutil

            return " ".join(psutil.Process(pid).cmdline())
        except Exception:
            return ""
    return " ".join(arg.decode(errors="replace") for arg in raw.split(b"\0") if arg)


def list_children(use_proc: bool = True) -> tuple[set[int], bool]:
    """Direct children of this process, and whether ``/proc`` could list them."""
    if use_proc:
        pids = proc_children()
        if pids is not None:
            return set(pids), True
    import psutil

    try:
        return {child.pid for child in psutil.Process().children()}, False
    except Exception:  # psutil cannot tell here either: said once (unavailable_note)
        return set(), False


class Reading(NamedTuple):
    """What ``/proc`` says about one child: its name, its state, its command line."""

    comm: str
    state: str
    cmdline: str
    """'' for a zombie (the kernel drops it) and while an exec is in flight."""

    @property
    def execing(self) -> bool:
        """Running with no command line: between the kernel closing the exec'ing child's
        close-on-exec fds (which is when ``Popen`` returns) and setting up its new
        arguments, the command line reads empty and the name is still the parent's."""
        return not self.cmdline and self.state not in _EXITED


def read_child(pid: int) -> Reading:
    """One child's name, state and (unless it exited) command line."""
    comm, state = read_stat(pid)
    return Reading(comm, state, "" if state in _EXITED else read_cmdline(pid))


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

    @classmethod
    def unavailable_note(cls) -> str | None:
        if proc_children() is not None:
            return None
        try:
            import psutil

            psutil.Process().children()
        except Exception as exc:
            return f"processes: child processes cannot be listed here ({type(exc).__name__})"
        return None

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
        readings = {pid: read_child(pid) for pid in new}
        execing = [pid for pid, reading in readings.items() if reading.execing]
        if execing:
            # A child caught mid-exec shows neither its command line nor its name yet, so
            # the allow-list could not match it: read it again once the exec is done (a
            # moment; bounded by the grace period).
            wait_until(
                lambda: not any(read_child(pid).execing for pid in execing), self.config.grace
            )
            readings.update((pid, read_child(pid)) for pid in execing)
        found = [
            pid
            for pid, reading in readings.items()
            if reading.state != GONE and not allowed(self._describe(pid, reading, with_stack=False))
        ]
        if found:
            held = ownership.held_pids(found)
            found = [pid for pid in found if pid not in held]
        if not found:
            return []
        running = [pid for pid in found if readings[pid].state not in _EXITED]
        if running:
            # A child that is finishing is not a leak once its owner reaps it.
            self.wait_grace(lambda: all(read_stat(pid)[1] in _EXITED for pid in running))
            exited = [pid for pid in running if read_stat(pid)[1] in ("Z", "X", "x")]
            if exited:  # its owner (a watcher thread, a wait() elsewhere) may be reaping it now
                wait_until(
                    lambda: all(read_stat(pid)[1] == GONE for pid in exited),
                    min(0.05, self.config.grace),
                )
        leaks = []
        for pid in sorted(found):
            reading = read_child(pid)
            if reading.state == GONE:
                continue
            leak = self._describe(pid, reading, with_stack=True)
            # Checked again: a child forked without exec'ing yet (fork() then exec*())
            # shows its parent's command line until it execs, maybe during the wait.
            if not allowed(leak):
                leaks.append(leak)
        return leaks

    def _describe(self, pid: int, reading: Reading, with_stack: bool) -> Leak:
        comm, state, cmdline = reading
        shown = cmdline or comm or "?"
        if state in ("Z", "X", "x"):
            summary = (
                f"process {pid} ({shown}) exited but was never waited for "
                "(a zombie: call wait() or use 'with Popen(...)')"
            )
        else:
            summary = f"process {pid} ({shown}) is still running"
        details: list[str] = []
        library = False
        if with_stack:
            stack = origins.process_origin(pid)
            details = origins.stack_details("started at", stack)
            library = origins.is_library_stack(stack)
        keys: tuple[str, ...] = tuple(dict.fromkeys(k for k in (cmdline, comm) if k))
        return Leak(
            kind=self.name,
            summary=summary,
            details=tuple(details),
            keys=keys,
            by_library=library,
        )
