"""asyncio tasks left pending by a test, and task exceptions nobody retrieved.

pytest-asyncio (1.x), anyio's pytest plugin, ``IsolatedAsyncioTestCase`` and
``asyncio.run`` all close their loop through ``asyncio.Runner.close``, which
silently cancels the tasks still pending. The detector wraps that method: the
tasks of the closing loop that are still pending (and were not asked to cancel)
are recorded as leaks of the current test *before* they are cancelled, at the
moment every fixture that used the loop has been torn down, so a fixture that
cancels its own background task in its teardown is not blamed. Tasks on a loop
that outlives the test (module- or session-scoped loops) are found after
teardown through asyncio's registry of all tasks.

Ownership: asyncio's registry is process-wide, so it also holds the tasks of loops
running in other threads (a session-scoped server with its own loop in a background
thread). The check runs in the test's thread while no loop runs there, so a loop that
is running at that moment runs in another thread: its tasks belong to whoever owns
that thread, and a thread the test started and left running is the threads
detector's find. Likewise a loop closed by ``asyncio.Runner`` in another thread counts
only when the test started that thread (``origins.thread_number``); a log record of
an unretrieved exception, only when it was emitted in the test's thread or in a
thread the test started.
"""

from __future__ import annotations

import asyncio
import asyncio.runners
import asyncio.tasks
import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from leakbench.detectors import origins
from leakbench.detectors.base import AllowFn, Detector
from leakbench.detectors.leak import Leak

_NEVER_RETRIEVED = "exception was never retrieved"

Snapshot = tuple[frozenset[int], int, int, tuple[tuple[int, int], ...]]
"""Ids of the tasks alive, how many events were recorded, ``origins.threads_started()``
at snapshot time, and the ranges of thread numbers that wider fixtures started (adopted)."""


def _all_tasks() -> list[Any]:
    registry = getattr(asyncio.tasks, "_all_tasks", None)
    if not registry:  # no task at all (most sync suites), or another Python version
        return []
    while True:
        try:
            return list(registry)
        except RuntimeError:  # the WeakSet changed size during iteration
            continue


def _loop_of(task: Any) -> Any:
    try:
        return task.get_loop()
    except Exception:
        return None


def _is_running(loop: Any) -> bool:
    try:
        return bool(loop.is_running())
    except Exception:
        return False


@dataclass
class _Event:
    """A leak seen when it happened: a task cancelled at loop close, a log record."""

    leak: Leak
    task_id: int | None = None
    adopted: bool = False
    thread: int | None = None
    """``origins.thread_number`` of the thread it happened in; None: the checking thread."""


class _NeverRetrievedHandler(logging.Handler):
    """Catches asyncio's "Task exception was never retrieved" log records.

    asyncio logs them from ``Task.__del__`` when an errored task is collected; the
    record carries the task in its message, so only the formatted text is kept.
    """

    def __init__(self, record: Callable[[str, str], None]) -> None:
        super().__init__(level=logging.ERROR)
        self._record = record

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if _NEVER_RETRIEVED not in message:
                return
            exc = record.exc_info[1] if record.exc_info else None
            detail = f" ({type(exc).__name__}: {exc})" if exc is not None else ""
            self._record(message, detail)
        except Exception:
            return


class TasksDetector(Detector[Snapshot]):
    name = "tasks"
    description = "asyncio tasks still pending when the test finished, unretrieved exceptions"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.events: list[_Event] = []
        self._handler = _NeverRetrievedHandler(self._record_log)
        self._reported_names: set[str] = set()
        self._original_close: Callable[[Any], None] | None = None
        self._checking_thread = threading.get_ident()

    def start(self) -> None:
        self._checking_thread = threading.get_ident()
        logging.getLogger("asyncio").addHandler(self._handler)
        runner = getattr(asyncio.runners, "Runner", None)
        if runner is None or self._original_close is not None:  # pragma: no cover
            return
        original: Callable[[Any], None] = runner.close
        detector = self

        def close(self: Any) -> None:
            with contextlib.suppress(Exception):  # never break the loop's shutdown
                detector._record_closing(getattr(self, "_loop", None))
            original(self)

        close.__wrapped__ = original  # type: ignore[attr-defined]
        self._original_close = original
        runner.close = close

    def stop(self) -> None:
        logging.getLogger("asyncio").removeHandler(self._handler)
        if self._original_close is not None:
            asyncio.runners.Runner.close = self._original_close  # type: ignore[method-assign, assignment]
            self._original_close = None

    def snapshot(self) -> Snapshot:
        return frozenset(map(id, _all_tasks())), len(self.events), origins.threads_started(), ()

    def adopt(self, baseline: Snapshot, before: Snapshot, after: Snapshot) -> Snapshot:
        for event in self.events[before[1] : after[1]]:
            event.adopted = True
        adopted = (*baseline[3], (before[2], after[2])) if after[2] > before[2] else baseline[3]
        return baseline[0] | (after[0] - before[0]), baseline[1], baseline[2], adopted

    @staticmethod
    def _test_started(thread: int | None, baseline: Snapshot) -> bool:
        """Whether the thread an event happened in is the checking thread or one that the
        test started (not before its baseline, nor by a wider fixture it set up)."""
        if thread is None:
            return True
        if thread < baseline[2]:
            return False
        return not any(low <= thread < high for low, high in baseline[3])

    def find(self, baseline: Snapshot, allowed: AllowFn) -> list[Leak]:
        known, first_event = baseline[0], baseline[1]
        leaks: list[Leak] = []
        for event in self.events[first_event:]:
            if event.adopted or (event.task_id is not None and event.task_id in known):
                continue
            if not self._test_started(event.thread, baseline):
                continue
            if not allowed(event.leak):
                leaks.append(event.leak)
        running_here = asyncio.events._get_running_loop()
        for task in _all_tasks():
            if id(task) in known:
                continue
            loop = _loop_of(task)
            if loop is not None and loop is not running_here and _is_running(loop):
                continue  # a loop running in another thread: that thread's owner's task
            leak = self._describe(task)
            if leak is not None and not allowed(leak):
                self._reported_names.add(task.get_name())
                leaks.append(leak)
        return leaks

    def _record_closing(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """Called by ``Runner.close`` before it cancels what is left on its loop."""
        if loop is None or loop.is_closed():
            return
        thread = self._current_thread_number()
        for task in asyncio.all_tasks(loop):
            leak = self._describe(task, closing=True)
            if leak is not None:
                self.events.append(_Event(leak, task_id=id(task), thread=thread))

    def _current_thread_number(self) -> int | None:
        if threading.get_ident() == self._checking_thread:
            return None
        return origins.thread_number(threading.current_thread())

    def _record_log(self, message: str, detail: str) -> None:
        lines = message.splitlines()
        if any(f"name='{name}'" in message for name in self._reported_names):
            return  # already reported as a done task that a test left behind
        summary = lines[0] + detail
        leak = Leak(self.name, summary, tuple(f"  {line}" for line in lines[1:3]), (summary,))
        self.events.append(_Event(leak, thread=self._current_thread_number()))

    def _describe(self, task: Any, closing: bool = False) -> Leak | None:
        coro = task.get_coro()
        coro_name = getattr(coro, "__qualname__", None) or repr(coro)
        keys = (task.get_name(), str(coro_name))
        stack = origins.task_origin(task)
        library = origins.is_library_stack(stack)
        details = origins.stack_details("created at", stack)
        if not task.done():
            if task.cancelling():  # asked to stop; it will at the loop's next turn
                return None
            frame = getattr(coro, "cr_frame", None)
            if frame is not None:
                details.append(
                    f"  waiting in {frame.f_code.co_name} "
                    f"({frame.f_code.co_filename}:{frame.f_lineno})"
                )
            when = " when its event loop was closed" if closing else ""
            return Leak(
                kind=self.name,
                summary=f"task {task.get_name()!r} running {coro_name}() was still pending{when}",
                details=tuple(details),
                keys=keys,
                by_library=library,
            )
        if task.cancelled() or not getattr(task, "_log_traceback", False):
            return None
        exc = getattr(task, "_exception", None)
        return Leak(
            kind=self.name,
            summary=(
                f"task {task.get_name()!r} running {coro_name}() raised "
                f"{type(exc).__name__}: {exc} and the exception was never retrieved"
            ),
            details=tuple(details),
            keys=keys,
            by_library=library,
        )
