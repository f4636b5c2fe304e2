"""SIGTERM as Ctrl-C: one handler for every command that must clean up when killed.

CI cancels a job with SIGTERM. Python's default ends the process at once, skipping the
``finally`` blocks that kill measurement children, remove a temporary git worktree or
delete a temp file; turned into a ``KeyboardInterrupt`` it unwinds exactly like Ctrl-C, and
each command's Ctrl-C path (exit 130, nothing half-written) covers both.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from types import FrameType

__all__ = ["Terminated", "sigterm_as_interrupt"]


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
