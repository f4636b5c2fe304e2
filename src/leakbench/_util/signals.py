"""SIGTERM as Ctrl-C, signals held over a step that must not be cut, and the test pause.

CI cancels a job with SIGTERM. Python's default ends the process at once, skipping the
``finally`` blocks that kill measurement children, remove a temporary git worktree or
delete a temp file; turned into a ``KeyboardInterrupt`` it unwinds exactly like Ctrl-C, and
each command's Ctrl-C path (exit 130, nothing half-written) covers both.

Some steps must finish once begun or never start (``git worktree add``, creating a temp file
and remembering its name, the cleanup itself): :func:`deferred_signals` holds SIGINT and
SIGTERM over them and delivers what arrived right after, so the interrupt lands where the
caller's cleanup can see the step's outcome.

:func:`test_pause` is how the interrupt tests (``tests/test_interrupts.py``) stop a real
command at a known point: with ``LEAKBENCH_TEST_PAUSE=<point>`` and
``LEAKBENCH_TEST_PAUSE_FILE=<path>`` set, reaching ``<point>`` writes ``<path>`` and waits (at
most 30 s) for a signal. Without both variables it does nothing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from types import FrameType
from typing import Any

__all__ = [
    "INTERRUPT_EXIT",
    "Terminated",
    "deferred_signals",
    "ignore_further_interrupts",
    "sigterm_as_interrupt",
    "test_pause",
]

INTERRUPT_EXIT = 130
"""The exit code of every interrupted command (128 + SIGINT, as shells report Ctrl-C)."""

PAUSE_POINT = "LEAKBENCH_TEST_PAUSE"
PAUSE_FILE = "LEAKBENCH_TEST_PAUSE_FILE"
PAUSE_LIMIT = 30.0
"""Seconds a test pause waits for its signal before going on (a test that forgot to send one
must not hang the suite)."""

HELD = (signal.SIGINT, signal.SIGTERM)


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived; a ``KeyboardInterrupt`` so that Ctrl-C handling covers it."""


def _raise(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Inside the block SIGTERM raises :class:`Terminated`; the old handler comes back after.

    Outside the main thread (where Python cannot install handlers) the block runs unchanged.
    """
    try:
        previous = signal.signal(signal.SIGTERM, _raise)
    except ValueError:
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def ignore_further_interrupts() -> None:
    """SIGINT and SIGTERM ignored from now on: for a process that has been interrupted and is
    saying so on its way out. A second Ctrl-C there would otherwise end it by the signal
    (exit -2, not 130) after its cleanup had already run."""
    if _in_main_thread():
        for which in HELD:
            signal.signal(which, signal.SIG_IGN)


@contextlib.contextmanager
def deferred_signals(*, deliver: bool = True) -> Iterator[list[int]]:
    """Hold SIGINT and SIGTERM inside the block; deliver them (once each, in order) after it
    (``deliver=False``: drop them, for the last words of a process already exiting).

    Yields the list of signals held so far. The handlers in force before the block run on
    delivery, so a held Ctrl-C raises ``KeyboardInterrupt`` right after the block, where the
    caller's ``try`` sees the step complete. Nested blocks deliver at the outermost exit.
    Outside the main thread the block runs unchanged (signals go to the main thread anyway).
    """
    if not _in_main_thread():
        yield []
        return
    held: list[int] = []
    previous: dict[int, Any] = {}

    def hold(signum: int, frame: FrameType | None) -> None:
        held.append(signum)

    try:
        for which in HELD:
            previous[which] = signal.signal(which, hold)
        yield held
    finally:
        for number, handler in previous.items():
            # None: a handler installed outside Python; the default is the closest we can do.
            signal.signal(number, signal.SIG_DFL if handler is None else handler)
        if deliver:
            _deliver(held, previous)


def _deliver(held: list[int], handlers: dict[int, Any]) -> None:
    for signum in dict.fromkeys(held):
        handler = handlers.get(signum)
        if callable(handler):
            handler(signum, None)
        elif handler == signal.SIG_DFL:
            signal.raise_signal(signum)  # what would have happened without the block


def test_pause(point: str, held: list[int] | None = None) -> None:
    """Stop at ``point`` when the interrupt tests ask for it (see the module docstring).

    Inside :func:`deferred_signals` pass its list as ``held``: the pause then ends as soon
    as a signal is held (it cannot raise there)."""
    if os.environ.get(PAUSE_POINT) != point or not os.environ.get(PAUSE_FILE):
        return
    with open(os.environ[PAUSE_FILE], "w", encoding="utf-8") as fh:
        fh.write(f"{point} {os.getpid()}\n")
    deadline = time.monotonic() + PAUSE_LIMIT
    while time.monotonic() < deadline and not held:
        time.sleep(0.01)  # a Python signal handler runs (and may raise) between sleeps


test_pause.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
