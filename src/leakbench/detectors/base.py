"""The contract every detector follows: snapshot before, compare after.

The checker (``leakbench.plugin.checker``) drives detectors; a detector never talks to
pytest. That keeps each detector a small, separately testable module, like the
scheduler strategies behind a protocol in pytest-xdist. A detector also describes
itself through class attributes (on by default or opt-in, kept alive by a failed
test's traceback, fed warnings, ...), so that the checker, the hooks and the help
texts work from the registry and never name a concrete detector.
"""

from __future__ import annotations

import time
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
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
    """The kind of leak: the detector's name in ``--leaks=``, markers and patterns."""
    description: ClassVar[str]
    """What it reports, in a few words: shown in the ``--leaks`` help."""
    default_on: ClassVar[bool] = True
    """Part of ``--leaks`` without a list; False for costly detectors one opts into."""
    restores_matter: ClassVar[bool] = False
    """True when undoing something is a change too (a fixture restoring os.environ at
    its teardown), so the checker adopts what wider fixtures' teardowns do."""
    kept_by_traceback: ClassVar[bool] = False
    """True when a failed test's traceback can keep what this detector finds alive
    (frames hold files, sockets, objects): such finds on a failed test are not counted."""
    receives_warnings: ClassVar[bool] = False
    """True when the plugin must feed it each test's warnings capture (``attach``) and
    the unraisable exceptions (``record_unraisable``)."""
    held_by_fixture_values: ClassVar[bool] = False
    """True when the values of the test's function-scoped fixtures, which pytest drops
    only after the teardown report, would be counted as the test's leak: the plugin then
    drops its references to them before ``find``."""

    looks_first: ClassVar[bool] = False
    """True when ``find`` must run before the other detectors' finds: it counts live
    objects, and their finds create objects of their own (reading a singleton's
    attributes materialises its instance dict)."""

    def __init__(self, config: DetectorConfig) -> None:
        self.config = config
        self.graces_spent = 0
        """How many times ``find`` waited out the grace period (lets tests tell a wait
        happened, or did not, without measuring time)."""

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

    @classmethod
    def unavailable_note(cls) -> str | None:
        """One line saying what this detector cannot check on this system (no ``/proc``,
        no psutil answer), printed once at the end of the run; None when it works fully."""
        return None

    def start(self) -> None:
        """Called once when the session starts using this detector."""

    def stop(self) -> None:
        """Called once at session end."""

    def still_open(self, baseline: S) -> bool | None:
        """Whether something the test opened since ``baseline`` is still open; None when
        this detector cannot tell.

        The checker runs a garbage collection at teardown (for the warnings that
        dropped objects emit) only when it can matter; a detector that sees open
        resources lets it skip the collection when everything new was closed again.
        """
        return None

    def attach(
        self, log: list[warnings.WarningMessage] | None, filters: Sequence[Any] = ()
    ) -> None:
        """Read the current test's warnings from ``log`` (None: the test is over);
        ``filters`` is the test's ``warnings.filters`` before the plugin added its own.

        Called only on detectors with ``receives_warnings``; a no-op otherwise.
        """

    def record_unraisable(self, summary: str, traceback_lines: list[str]) -> None:
        """An exception that ``__del__`` or a callback raised and Python ignored.

        Called only on detectors with ``receives_warnings``; a no-op otherwise.
        """

    def wait_grace(self, done: Callable[[], bool]) -> bool:
        """Give what is finishing (a thread, a child, an fd being closed) up to
        ``config.grace`` seconds to go, until ``done()``; True when it did.

        Only for something found and not allowed: a clean test, or an allowed find,
        never waits. Counted in ``graces_spent``.
        """
        self.graces_spent += 1
        return wait_until(done, self.config.grace)


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
