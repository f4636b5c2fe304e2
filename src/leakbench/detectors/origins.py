"""Remember where threads, tasks, processes and patches were created.

A leak report is only useful if it says *where* the leaked thing came from. The
creation stack is captured cheaply (a walk of ``sys._getframe`` into a tuple, a few
microseconds) by wrapping the few constructors that matter, and only while the
plugin is active. Stacks are formatted lazily, when a leak is reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
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
    "/leakbench/detectors/origins.py",
)

_task_origins: weakref.WeakKeyDictionary[Any, Stack] = weakref.WeakKeyDictionary()
_process_origins: dict[int, Stack] = {}
_installed: list[tuple[object, str, object]] = []
_users = 0
"""Sessions using the wrappers (an in-process pytester session nests inside ours)."""
_thread_seq = 0
"""How many threads were started since the wrappers were installed."""


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


_ENGINE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
"""leakbench's own package folder: its frames (the bench fixture's rounds) are not the user's
(matched by folder, so a user's project in a folder named ``leakbench`` is still shown)."""


def format_stack(stack: Stack, limit: int = 6) -> list[str]:
    """Render a captured stack, innermost frame first, skipping the frames of pytest, pluggy,
    pytest-benchmark and leakbench itself: what is left is the user's code and libraries."""
    lines = []
    for filename, lineno, name in stack:
        if (
            "/_pytest/" in filename
            or "/pluggy/" in filename
            or "/pytest_benchmark/" in filename
            or filename.startswith(_ENGINE_DIR)
        ):
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


def threads_started() -> int:
    """A counter of thread starts: a thread whose ``thread_number`` is at least the value
    read before a test was started during it (O(1), for per-test baselines)."""
    return _thread_seq


def thread_number(thread: threading.Thread) -> int:
    """The ``threads_started()`` value when ``thread`` was started; -1 when it was started
    before the wrappers were installed (so before any test)."""
    number = getattr(thread, "_leakbench_number", -1)
    return number if isinstance(number, int) else -1


def is_library_stack(stack: Stack) -> bool:
    """Whether a recorded creation stack says library code created the thing: its
    innermost frame (the machinery of threading, asyncio, subprocess and mock already
    skipped) is in the standard library or an installed package, not the project's own
    files. A test that starts a thread itself is the thread's creator; a library that
    starts one when the test calls it (a listener, a pool, a server) is."""
    frames = [f for f, _, _ in stack if "/_pytest/" not in f and "/pluggy/" not in f]
    return bool(frames) and _is_library_file(frames[0])


_LIBRARY_ROOTS = tuple(
    {
        p.rstrip("/") + "/"
        for p in (sys.base_prefix, sys.prefix, sys.exec_prefix, sys.base_exec_prefix)
        if p
    }
)


def _is_library_file(filename: str) -> bool:
    if "/site-packages/" in filename or "/dist-packages/" in filename:
        return True
    if filename.startswith("<"):  # frozen modules, <string>
        return True
    # The standard library: under the interpreter's prefix but not in a venv's own tree
    # of project files (a project folder is not under sys.prefix).
    return filename.startswith(_LIBRARY_ROOTS) and "/lib/python" in filename


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
            global _thread_seq
            self._leakbench_origin = capture(2)  # type: ignore[attr-defined]
            self._leakbench_number = _thread_seq  # type: ignore[attr-defined]
            _thread_seq += 1
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
