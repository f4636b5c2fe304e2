"""asyncio tasks left pending by a test, and task exceptions nobody retrieved.

pytest-asyncio closes each loop through ``asyncio.Runner``, which silently
cancels leftover tasks, so the check must run when the test's coroutine has
finished but before fixture teardown closes the loop: the checker calls
``check_call`` right after the call phase. Tasks are found through asyncio's
registry of all tasks of all loops, so no loop needs to be known in advance.
"""

from __future__ import annotations

import asyncio
import asyncio.tasks
import logging
from typing import Any

from leakbench import origins
from leakbench.detectors.base import AllowFn, Detector
from leakbench.leaks import Leak

_NEVER_RETRIEVED = "exception was never retrieved"


def _all_tasks() -> list[Any]:
    registry = getattr(asyncio.tasks, "_all_tasks", None)
    if registry is None:  # pragma: no cover - other Python versions
        return []
    while True:
        try:
            return list(registry)
        except RuntimeError:  # the WeakSet changed size during iteration
            continue


class _NeverRetrievedHandler(logging.Handler):
    """Catches asyncio's "Task exception was never retrieved" log records.

    asyncio logs them from ``Task.__del__`` when an errored task is collected; the
    record carries the task in its message, so only the formatted text is kept.
    """

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:
            return
        if _NEVER_RETRIEVED in message:
            exc = record.exc_info[1] if record.exc_info else None
            detail = f" ({type(exc).__name__}: {exc})" if exc is not None else ""
            self.messages.append(message.splitlines()[0] + detail)


class TasksDetector(Detector[tuple[frozenset[int], int]]):
    name = "tasks"
    description = "asyncio tasks still pending when the test finished, unretrieved exceptions"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._handler = _NeverRetrievedHandler()
        self._reported: set[int] = set()

    def start(self) -> None:
        logging.getLogger("asyncio").addHandler(self._handler)

    def stop(self) -> None:
        logging.getLogger("asyncio").removeHandler(self._handler)

    def snapshot(self) -> tuple[frozenset[int], int]:
        self._reported.clear()
        return frozenset(map(id, _all_tasks())), len(self._handler.messages)

    def adopt(
        self,
        baseline: tuple[frozenset[int], int],
        before: tuple[frozenset[int], int],
        after: tuple[frozenset[int], int],
    ) -> tuple[frozenset[int], int]:
        tasks = baseline[0] | (after[0] - before[0])
        return tasks, baseline[1] + (after[1] - before[1])

    def check_call(self, baseline: tuple[frozenset[int], int], allowed: AllowFn) -> list[Leak]:
        """Run right after the call phase, while the test's loop is still open."""
        return self._scan(baseline, allowed, include_logged=False)

    def find(self, baseline: tuple[frozenset[int], int], allowed: AllowFn) -> list[Leak]:
        return self._scan(baseline, allowed, include_logged=True)

    def _scan(
        self, baseline: tuple[frozenset[int], int], allowed: AllowFn, include_logged: bool
    ) -> list[Leak]:
        known, logged = baseline
        leaks: list[Leak] = []
        for task in _all_tasks():
            if id(task) in known or id(task) in self._reported:
                continue
            leak = self._describe(task)
            if leak is not None and not allowed(leak):
                self._reported.add(id(task))
                leaks.append(leak)
        if include_logged:
            for message in self._handler.messages[logged:]:
                leak = Leak(kind=self.name, summary=message, keys=(message,))
                if not allowed(leak):
                    leaks.append(leak)
        return leaks

    def _describe(self, task: Any) -> Leak | None:
        coro = task.get_coro()
        coro_name = getattr(coro, "__qualname__", None) or repr(coro)
        created = origins.format_stack(origins.task_origin(task))
        details = ["created at:", *created] if created else []
        if not task.done():
            frame = getattr(coro, "cr_frame", None)
            if frame is not None:
                details.append(
                    f"  waiting in {frame.f_code.co_name} "
                    f"({frame.f_code.co_filename}:{frame.f_lineno})"
                )
            return Leak(
                kind=self.name,
                summary=f"task {task.get_name()!r} running {coro_name}() is still pending",
                details=tuple(details),
                keys=(task.get_name(), str(coro_name)),
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
            keys=(task.get_name(), str(coro_name)),
        )
