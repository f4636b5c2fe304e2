"""Per-test orchestration of the detectors: baseline, fixture adoption, checks.

The plugin's hooks call into one ``LeakChecker`` per session; all per-test state
lives in a ``TestState`` kept in ``item.stash``. Every detector call is guarded:
a detector that fails reports an internal error for itself and the run goes on.
"""

from __future__ import annotations

import dataclasses
import gc
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from leakbench import activity
from leakbench.detectors import REGISTRY, Detector
from leakbench.detectors.resource_warnings import WarningsDetector
from leakbench.leaks import Leak
from leakbench.settings import Settings, allow_matcher


@dataclass
class TestState:
    """What the checker knows about the test being run."""

    detectors: list[Detector[Any]]
    baselines: dict[str, Any]
    allowed: Callable[[Leak], bool]
    leaks: list[Leak] = field(default_factory=list)
    resources_at_start: int = 0
    failed: bool = False


class LeakChecker:
    """Owns the session's detector instances and runs them around each test."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        config = settings.detector_config()
        self.detectors: dict[str, Detector[Any]] = {
            name: REGISTRY[name](config) for name in settings.enabled if name in REGISTRY
        }
        self._allowed = allow_matcher(settings.allow)

    @property
    def warnings(self) -> WarningsDetector | None:
        det = self.detectors.get("warnings")
        return det if isinstance(det, WarningsDetector) else None

    def start(self) -> None:
        activity.enable()
        for det in self.detectors.values():
            self._guard(det, det.start)

    def stop(self) -> None:
        for det in self.detectors.values():
            self._guard(det, det.stop)
        activity.disable()

    def begin(self, skip: tuple[str, ...]) -> TestState:
        """Take every baseline before setup."""
        _release_last_failure()
        active = [d for name, d in self.detectors.items() if name not in skip]
        state = TestState(
            detectors=active,
            baselines={},
            allowed=self._allowed,
            resources_at_start=activity.counters.resources + activity.counters.spawns,
        )
        for det in active:
            ok, snap = self._guard(det, det.snapshot, state)
            if ok:
                state.baselines[det.name] = snap
        return state

    def snapshot_all(self, state: TestState) -> dict[str, Any]:
        snaps = {}
        for det in state.detectors:
            if det.name in state.baselines:
                ok, snap = self._guard(det, det.snapshot, state)
                if ok:
                    snaps[det.name] = snap
        return snaps

    def adopt(self, state: TestState, before: dict[str, Any], after: dict[str, Any]) -> None:
        """Resources a wider-scoped fixture created are the fixture's, not the test's."""
        for det in state.detectors:
            name = det.name
            if name in before and name in after and name in state.baselines:
                ok, merged = self._guard(
                    det, partial(det.adopt, state.baselines[name], before[name], after[name]), state
                )
                if ok:
                    state.baselines[name] = merged

    def collect_garbage(self, state: TestState) -> None:
        """Make dropped objects emit their ResourceWarnings now, on this test.

        A full collection costs milliseconds on a large heap, so it runs only when
        the test created files, sockets or processes (seen by the audit hook) or
        when asked to; otherwise the youngest generation is enough.
        """
        counters = activity.counters
        busy = counters.resources + counters.spawns != state.resources_at_start
        gc.collect() if busy or self.settings.full_gc else gc.collect(0)

    def finish(self, state: TestState) -> list[Leak]:
        """Compare every detector with its baseline after teardown."""
        for det in state.detectors:
            if det.name not in state.baselines:
                continue
            ok, leaks = self._guard(
                det, partial(det.find, state.baselines[det.name], state.allowed), state
            )
            if ok:
                state.leaks.extend(leaks)
        if state.failed:
            reason = "not counted: the test raised and its traceback may keep these alive"
            state.leaks = [
                dataclasses.replace(leak, excused=reason)
                if leak.kind in ("fds", "warnings", "objects") and not leak.excused
                else leak
                for leak in state.leaks
            ]
        return state.leaks

    def _guard(
        self, det: Detector[Any], fn: Callable[[], Any], state: TestState | None = None
    ) -> tuple[bool, Any]:
        try:
            return True, fn()
        except Exception as exc:  # a detector bug must never break the user's run
            if state is not None:
                state.leaks.append(
                    Leak(
                        kind=det.name,
                        summary=f"internal error in the {det.name} detector: "
                        f"{type(exc).__name__}: {exc}",
                        details=tuple(traceback.format_exc(limit=4).splitlines()),
                        internal_error=True,
                    )
                )
            return False, None


def _release_last_failure() -> None:
    """Drop the previous failure's traceback before the next baseline.

    pytest keeps the last exception in ``sys.last_value`` (and friends) for
    post-mortem debugging and deletes it when the next test's call starts. The
    frames it holds keep the failed test's sockets and files alive, so that
    deletion would close them, and raise their ResourceWarnings, inside the next
    test. Deleting it (and collecting) before the baseline charges them to no one;
    the failed test itself reported them as not counted.
    """
    if getattr(sys, "last_value", None) is None and getattr(sys, "last_exc", None) is None:
        return
    for name in ("last_type", "last_value", "last_traceback", "last_exc"):
        if hasattr(sys, name):
            delattr(sys, name)
    gc.collect()
