"""Resident memory (RSS) of this process and of a process tree, read cheaply.

Per-test accounting and the memory guard read a few numbers after every test, so
the readers keep their ``/proc`` files open and ``pread`` them: ~1 us for
``statm`` and ~4 us for ``status`` here, against ~10 us to open a file and tens of
microseconds for a psutil call. Writing ``5`` to ``/proc/self/clear_refs``
resets the high-water mark (``VmHWM``) so that each test's peak can be read on
its own. Where ``/proc`` is missing or refuses, psutil gives the current RSS and
the peak falls back to the larger of the readings before and after a test.

``PROC`` is the one root of ``/proc`` every reader of leakbench uses, read at call time:
a test points it at a missing folder to run the fallbacks of systems without ``/proc``
(macOS, Windows), since the real one cannot be removed.
"""

from __future__ import annotations

import contextlib
import os

import psutil

__all__ = ["PROC", "SelfMemory", "available", "total_ram", "tree_rss"]

PROC = "/proc"
"""Where the kernel's process files are (every ``/proc`` path of leakbench starts here)."""

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def available() -> bool:
    """Whether this system has ``/proc`` (at ``PROC``) to read."""
    return os.path.isdir(f"{PROC}/self")


class SelfMemory:
    """RSS and high-water mark of this process; owns a few open ``/proc`` fds."""

    def __init__(self) -> None:
        self._statm = _open(f"{PROC}/self/statm", os.O_RDONLY)
        self._status = _open(f"{PROC}/self/status", os.O_RDONLY)
        self._clear = _open(f"{PROC}/self/clear_refs", os.O_WRONLY)
        self.can_reset_peak = (
            self._clear is not None and self._status is not None and self.reset_peak()
        )
        """Whether the kernel lets this process reset its high-water mark."""
        self._psutil = psutil.Process() if self._statm is None else None

    def rss(self) -> int:
        """Current resident set size in bytes."""
        if self._statm is not None:
            return int(os.pread(self._statm, 128, 0).split()[1]) * _PAGE
        assert self._psutil is not None
        return int(self._psutil.memory_info().rss)

    def rss_and_peak(self) -> tuple[int, int]:
        """Current RSS and the high-water mark since the last reset, in bytes.

        Without ``/proc/self/status`` the peak is the current RSS (the caller keeps
        the larger of its readings).
        """
        if self._status is None:
            rss = self.rss()
            return rss, rss
        data = os.pread(self._status, 8192, 0)
        return _kib(data, b"VmRSS:"), _kib(data, b"VmHWM:")

    def reset_peak(self) -> bool:
        """Make the high-water mark the current RSS; False where the kernel refuses."""
        if self._clear is None:
            return False
        try:
            os.write(self._clear, b"5")
        except OSError:
            return False
        return True

    def close(self) -> None:
        for fd in (self._statm, self._status, self._clear):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._statm = self._status = self._clear = None


def tree_rss(pid: int) -> int:
    """Sum of the RSS of ``pid`` and all its descendants, in bytes.

    The same reading ``leakbench workers`` samples (``process_tree``: the kernel's
    children lists under ``/proc``, not psutil's scan of every process on the host).
    Processes that exit while being read count as 0, and a child between fork and
    exec (still reporting its parent's memory) is not counted twice.
    """
    from leakbench._util import process_tree  # it reads PROC from here

    _, readings = process_tree.tree_memory(pid)
    return sum(memory.rss for memory in readings.values())


def total_ram() -> int:
    """Physical memory of the machine, in bytes (what ``75%`` is a share of)."""
    return int(psutil.virtual_memory().total)


def _open(path: str, flags: int) -> int | None:
    try:
        return os.open(path, flags)
    except OSError:
        return None


def _kib(data: bytes, key: bytes) -> int:
    start = data.index(key) + len(key)
    return int(data[start : data.index(b"kB", start)]) * 1024
