"""Threads alive after the test that were not alive before it.

Daemon threads count: a ``ThreadPoolExecutor`` never shut down keeps its workers
forever and a non-daemon one hangs interpreter exit. A thread that is about to
finish is given a short grace period, spent only when a new thread is found.
"""

from __future__ import annotations

import sys
import threading
import traceback

from leakbench.detectors import origins
from leakbench.detectors.base import AllowFn, Detector, qualname
from leakbench.detectors.leak import Leak


class ThreadsDetector(Detector[frozenset[threading.Thread]]):
    name = "threads"
    description = "threads started by the test and still alive after teardown"

    def snapshot(self) -> frozenset[threading.Thread]:
        return frozenset(threading.enumerate())

    def find(self, baseline: frozenset[threading.Thread], allowed: AllowFn) -> list[Leak]:
        def candidates() -> list[threading.Thread]:
            return [t for t in threading.enumerate() if t not in baseline and t.is_alive()]

        found = [t for t in candidates() if not allowed(self._describe(t, with_stack=False))]
        if not found:
            return []
        self.wait_grace(lambda: not any(t.is_alive() for t in found))
        return [self._describe(t) for t in found if t.is_alive()]

    def _describe(self, thread: threading.Thread, with_stack: bool = True) -> Leak:
        function = getattr(thread, "_target", None)
        if function is None and isinstance(thread, threading.Timer):
            function = thread.function
        target = qualname(function or type(thread).run)
        details: list[str] = []
        library = False
        if with_stack:
            stack = origins.thread_origin(thread)
            library = origins.is_library_stack(stack)
            details = origins.stack_details("started at", stack)
            frame = sys._current_frames().get(thread.ident or -1)
            if frame is not None:
                now = traceback.format_stack(frame, limit=3)
                details.append("running now:")
                details.extend("  " + line.rstrip() for chunk in now for line in chunk.splitlines())
        return Leak(
            kind=self.name,
            summary=(
                f"thread {thread.name!r} (daemon={thread.daemon}, target={target}) is still running"
            ),
            details=tuple(details),
            keys=(thread.name, target),
            by_library=library,
        )
