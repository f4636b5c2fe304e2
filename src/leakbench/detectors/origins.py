"""Remember where threads, tasks, processes and patches were created.

A leak report is only useful if it says *where* the leaked thing came from. The
creation stack is captured cheaply (a walk of ``sys._getframe`` into a tuple, a few
microseconds) by wrapping the few constructors that matter, and only while the
plugin is active. Stacks are formatted lazily, when a leak is reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import threading
import unittest.mock
import weakref
from collections.abc import Callable
from types import FrameType
from typing import Any

Stack = tuple[tuple[str, int, str], ...]

_MAX_FRAMES = 12
# Frames from these files are machinery, not the user's code.
_SKIP_PARTS = (
    "/threading.py",
    "/asyncio/",
    "/concurrent/futures/",
    "/subprocess.py",
    "/unittest/mock.py",
    "/leakbench/origins.py",
)

_task_origins: weakref.WeakKeyDictionary[Any, Stack] = weakref.WeakKeyDictionary()
_process_origins: dict[int, Stack] = {}
_installed: list[tuple[object, str, object]] = []
_users = 0
"""Sessions using the wrappers (an in-process pytester session nests inside ours)."""


def capture(skip: int = 1) -> Stack:
    """Cheap creation stack: innermost user frames first, machinery skipped."""
    frames: list[tuple[str, int, str]] = []
    frame: FrameType | None = sys._getframe(skip)
    while frame is not None and len(frames) < _MAX_FRAMES:
        filename = frame.f_code.co_filename
        if not any(part in filename for part in _SKIP_PARTS):
            frames.append((filename, frame.f_lineno, frame.f_code.co_name))
        frame = frame.f_back
    return tuple(frames)


def format_stack(stack: Stack, limit: int = 6) -> list[str]:
    """Render a captured stack, innermost frame first, skipping pytest/pluggy frames."""
    lines = []
    for filename, lineno, name in stack:
        if "/_pytest/" in filename or "/pluggy/" in filename:
            continue
        lines.append(f'  File "{filename}", line {lineno}, in {name}')
        if len(lines) >= limit:
            break
    return lines


def stack_details(label: str, stack: Stack) -> list[str]:
    """``label:`` followed by the rendered ``stack``, or nothing when none was recorded."""
    lines = format_stack(stack)
    return [f"{label}:", *lines] if lines else []


def thread_origin(thread: threading.Thread) -> Stack:
    return getattr(thread, "_leakbench_origin", ())


def task_origin(task: object) -> Stack:
    try:
        return _task_origins.get(task, ())
    except TypeError:
        return ()


def process_origin(pid: int) -> Stack:
    return _process_origins.get(pid, ())


def patch_origin(patcher: object) -> Stack:
    return getattr(patcher, "_leakbench_origin", ())


def _wrap(owner: object, attr: str, make: Callable[[Any], Any]) -> None:
    original = getattr(owner, attr)
    _installed.append((owner, attr, original))
    setattr(owner, attr, make(original))


def install() -> None:
    """Start recording creation stacks. Idempotent."""
    global _users
    _users += 1
    if _installed:
        return

    def thread_start(original: Callable[..., Any]) -> Callable[..., Any]:
        def start(self: threading.Thread) -> None:
            self._leakbench_origin = capture(2)  # type: ignore[attr-defined]
            original(self)

        return start

    def create_task(original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: asyncio.AbstractEventLoop, *args: Any, **kwargs: Any) -> Any:
            task = original(self, *args, **kwargs)
            with contextlib.suppress(TypeError):
                _task_origins[task] = capture(2)
            return task

        return wrapper

    def popen_init(original: Callable[..., Any]) -> Callable[..., Any]:
        def init(self: subprocess.Popen[Any], *args: Any, **kwargs: Any) -> None:
            original(self, *args, **kwargs)
            pid = getattr(self, "pid", None)
            if pid is not None:
                if len(_process_origins) > 10_000:
                    _process_origins.clear()
                _process_origins[pid] = capture(2)

        return init

    def patch_start(original: Callable[..., Any]) -> Callable[..., Any]:
        def start(self: Any) -> Any:
            result = original(self)
            self._leakbench_origin = capture(2)
            return result

        return start

    _wrap(threading.Thread, "start", thread_start)
    _wrap(asyncio.BaseEventLoop, "create_task", create_task)
    _wrap(subprocess.Popen, "__init__", popen_init)
    _wrap(unittest.mock._patch, "start", patch_start)
    _wrap(unittest.mock._patch_dict, "start", patch_start)


def uninstall() -> None:
    """Put the original constructors back once the last user is done."""
    global _users
    _users = max(0, _users - 1)
    if _users:
        return
    while _installed:
        owner, attr, original = _installed.pop()
        setattr(owner, attr, original)
