"""The contract every detector follows: snapshot before, compare after.

The checker (``leakbench.plugin.checker``) drives detectors; a detector never talks to
pytest. That keeps each detector a small, separately testable module, like the
scheduler strategies behind a protocol in pytest-xdist.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from leakbench.detectors.leak import Leak

S = TypeVar("S")

AllowFn = Callable[[Leak], bool]
"""Returns True when the allow-list covers this leak; such leaks are dropped early."""


@dataclass(frozen=True)
class DetectorConfig:
    """Settings a detector may need, resolved once per session."""

    grace: float = 0.5
    """Seconds to wait for threads/processes that are finishing (spent only on a find)."""
    objects_threshold: int = 100
    """Minimum growth of one type's instance count for the objects detector."""
    globals_watch: tuple[str, ...] = ()
    """Dotted names the globals detector watches besides its built-in ones."""
    watch_warnings_filters: bool = False
    """Whether the globals detector watches ``warnings.filters`` (when nothing restores
    them after each test)."""


class Detector(ABC, Generic[S]):
    """Finds one kind of leak by comparing a snapshot taken before a test with now."""

    name: ClassVar[str]
    description: ClassVar[str]
    restores_matter: ClassVar[bool] = False
    """True when undoing something is a change too (a fixture restoring os.environ at
    its teardown), so the checker adopts what wider fixtures' teardowns do."""

    def __init__(self, config: DetectorConfig) -> None:
        self.config = config

    @abstractmethod
    def snapshot(self) -> S:
        """State before the test (or before/after a wider-scoped fixture)."""

    @abstractmethod
    def find(self, baseline: S, allowed: AllowFn) -> list[Leak]:
        """Leaks present now that were not in ``baseline`` and are not allowed."""

    def adopt(self, baseline: S, before: S, after: S) -> S:
        """Add what a session/module/class fixture created to the baseline.

        Those resources belong to the fixture, not to the test that happened to
        set it up first. The default suits set-like snapshots.
        """
        return baseline | (after - before)  # type: ignore[operator, no-any-return]

    def start(self) -> None:
        """Called once when the session starts using this detector."""

    def stop(self) -> None:
        """Called once at session end."""


def wait_until(done: Callable[[], bool], timeout: float, step: float = 0.005) -> bool:
    """Poll ``done`` with growing sleeps until it is true or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        if done():
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(step, remaining))
        step = min(step * 2, 0.05)


def qualname(obj: Any) -> str:
    """``module.qualname`` of a callable, or its repr when it has none."""
    if obj is None:
        return "None"
    module = getattr(obj, "__module__", None) or ""
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if name is None:
        return repr(obj)
    return f"{module}.{name}" if module else str(name)


def new_items(baseline: Collection[Any], now: Collection[Any]) -> list[Any]:
    return [x for x in now if x not in baseline]
