"""Per-test orchestration of the detectors: baseline, fixture adoption, checks.

The plugin's hooks call into one ``LeakChecker`` per session; all per-test state
lives in a ``TestState`` kept in ``item.stash``. Every detector call is guarded:
a detector that fails reports an internal error for itself and the run goes on.
This is the per-test hot path of ``pytest --leaks``: it stays free of
allocations and calls that a clean test does not need. The checker never names a
concrete detector: what it treats differently it reads from the detectors' class
attributes (``Detector.kept_by_traceback``, ``receives_warnings``,
``restores_matter``...) and methods (``still_open``).

``FixtureTeardowns``: what a wider-scoped fixture's teardown undoes belongs to the
fixture, not the test. A module-scoped fixture that sets an environment variable and
removes it at the end of the module does so during the last test's teardown; without this, that
test would be blamed for removing it. Only detectors for which undoing is a
change (``Detector.restores_matter``: ``globals``) are snapshotted, around each
wider fixture's teardown: before it, from a finalizer that ``LeakCheck`` adds
after the fixture's setup (finalizers run last-added first, so it runs before the
fixture's own teardown), and after it, in ``pytest_fixture_post_finalizer``
(which pytest runs after all of the fixture's finalizers). Registered only when
such a detector is on: the hook runs for every fixture. (The check normally runs as
the test's last own finalizer, before any wider fixture's teardown: then there is
nothing to adopt, and this matters only where the check ran later.)
"""

from __future__ import annotations

import dataclasses
import gc
import sys
import traceback
from collections.abc import Callable
from typing import Any

import pytest

from leakbench.detectors import REGISTRY, Detector, activity, warmup
from leakbench.detectors.leak import Leak
from leakbench.plugin.options import Settings
from leakbench.plugin.policy import allow_matcher

__all__ = ["FixtureTeardowns", "unavailable_notes"]

_SYS = sys.__dict__
NOT_COUNTED_FAILED = "not counted: the test raised and its traceback may keep these alive"


class TestState:
    """What the checker knows about the test being run."""

    __slots__ = (
        "baselines",
        "checkpoint",
        "detectors",
        "failed",
        "finished",
        "leaks",
        "resources",
        "spawns",
    )

    def __init__(self, detectors: list[Detector[Any]]) -> None:
        self.detectors = detectors
        self.baselines: dict[str, Any] = {}
        self.leaks: list[Leak] = []
        counters = activity.counters
        self.resources = counters.resources
        self.spawns = counters.spawns
        self.failed = False
        self.finished = False
        self.checkpoint = False
        """The check is a finalizer at the bottom of the test's own teardown."""


class LeakChecker:
    """Owns the session's detector instances and runs them around each test."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        config = settings.detector_config()
        self.detectors: dict[str, Detector[Any]] = {
            name: REGISTRY[name](config) for name in settings.enabled if name in REGISTRY
        }
        self.allowed: Callable[[Leak], bool] = allow_matcher(settings.allow)
        self._all = list(self.detectors.values())
        self._owns_activity = False
        self._failure_kept = False
        """The last failed test left resources that its traceback may keep alive."""
        self.warning_receivers = [d for d in self._all if d.receives_warnings]
        """Detectors the plugin feeds each test's warnings and the unraisable exceptions."""
        self.restores_matter = any(d.restores_matter for d in self._all)
        """Some detector counts undoing as a change: wider fixtures' teardowns are adopted."""
        self.held_by_fixture_values = any(d.held_by_fixture_values for d in self._all)
        """Some detector would count the test's fixture values, which pytest still holds."""
        self._any_first = any(d.looks_first for d in self._all)
        self._traceback_kinds = frozenset(d.name for d in self._all if d.kept_by_traceback)
        """Kinds a failed test's traceback can keep alive: not counted for failed tests."""

    def start(self) -> None:
        # A session run inside another (pytester's in-process runs) leaves the
        # outer session's audit counting on.
        self._owns_activity = not activity.counters.enabled
        activity.enable()
        for det in self._all:
            self._guard(det, det.start)

    def stop(self) -> None:
        for det in self._all:
            self._guard(det, det.stop)
        if self._owns_activity:
            activity.disable()

    def begin(self, skip: tuple[str, ...] = ()) -> TestState:
        """Take every baseline before setup."""
        if "last_value" in _SYS or "last_exc" in _SYS:  # (hasattr costs ~1 us when absent)
            _release_last_failure(collect=self._failure_kept)
            self._failure_kept = False
        warmup.before_baseline()  # an event-loop implementation's one-time set-up
        state = TestState([d for d in self._all if d.name not in skip] if skip else self._all)
        baselines = state.baselines
        for det in state.detectors:
            try:
                baselines[det.name] = det.snapshot()
            except Exception as exc:
                state.leaks.append(_internal_error(det, exc))
        return state

    def snapshot_all(self, state: TestState, restores: bool = False) -> dict[str, Any]:
        """Every detector's snapshot now (with ``restores``: only detectors for which
        undoing something is a change)."""
        snaps = {}
        for det in state.detectors:
            if det.name in state.baselines and (det.restores_matter or not restores):
                ok, snap = self._guard(det, det.snapshot, state)
                if ok:
                    snaps[det.name] = snap
        return snaps

    def adopt(self, state: TestState, before: dict[str, Any], after: dict[str, Any]) -> None:
        """Resources a wider-scoped fixture created are the fixture's, not the test's."""
        for det in state.detectors:
            name = det.name
            if name in before and name in after and name in state.baselines:
                try:
                    state.baselines[name] = det.adopt(
                        state.baselines[name], before[name], after[name]
                    )
                except Exception as exc:
                    state.leaks.append(_internal_error(det, exc))

    def collect_garbage(self, state: TestState) -> None:
        """Make dropped objects emit their ResourceWarnings now, on this test.

        A full collection costs ~20 ms on the heap of a large suite, and even a
        young-generation one costs a clean test ~30 us all told, so it runs only
        when it can matter: when a detector that receives warnings checks this test
        and the test spawned a process, or opened a file or socket (seen by the audit
        hook) that is still open now (``Detector.still_open``: the fds detector can
        tell). A socket or file that garbage holds keeps its fd, so a test whose new
        fds were all closed leaves nothing for a collection to find.
        """
        if self.settings.full_gc:
            gc.collect()
            return
        receivers = self.warning_receivers
        if not receivers:
            return
        if state.detectors is not self._all and not any(d in state.detectors for d in receivers):
            return  # the test's marker allows what they would find
        counters = activity.counters
        if counters.spawns == state.spawns:
            if counters.resources == state.resources:
                return
            if not self._opened_still_open(state):
                return
        gc.collect()

    def _opened_still_open(self, state: TestState) -> bool:
        """Something the test opened is still open, or no detector can tell (collect)."""
        told = False
        for det in state.detectors:
            if det.name not in state.baselines:
                continue
            try:
                answer = det.still_open(state.baselines[det.name])
            except Exception:
                return True  # cannot tell: collect
            if answer:
                return True
            told = told or answer is not None
        return not told

    def finish(self, state: TestState) -> list[Leak]:
        """Compare every detector with its baseline after teardown."""
        state.finished = True
        baselines = state.baselines
        ordered = state.detectors
        if self._any_first:  # a detector of live objects counts before the others' work
            ordered = sorted(ordered, key=lambda d: not d.looks_first)
        for det in ordered:
            if det.name not in baselines:
                continue
            try:
                state.leaks.extend(det.find(baselines[det.name], self.allowed))
            except Exception as exc:
                state.leaks.append(_internal_error(det, exc))
        if state.failed and state.leaks:
            state.leaks = [
                dataclasses.replace(leak, excused=NOT_COUNTED_FAILED)
                if leak.kind in self._traceback_kinds
                and not leak.excused
                and not leak.internal_error
                else leak
                for leak in state.leaks
            ]
            self._failure_kept = any(leak.excused == NOT_COUNTED_FAILED for leak in state.leaks)
        return state.leaks

    def _guard(
        self, det: Detector[Any], fn: Callable[[], Any], state: TestState | None = None
    ) -> tuple[bool, Any]:
        try:
            return True, fn()
        except Exception as exc:  # a detector bug must never break the user's run
            if state is not None:
                state.leaks.append(_internal_error(det, exc))
            return False, None


def unavailable_notes(enabled: tuple[str, ...]) -> list[str]:
    """What the enabled detectors cannot check on this system (no ``/proc``), one line
    each, for the end of the run (``Detector.unavailable_note``)."""
    notes = []
    for name in enabled:
        cls = REGISTRY.get(name)
        try:
            note = cls.unavailable_note() if cls is not None else None
        except Exception:
            note = None
        if note:
            notes.append(note)
    return notes


def _internal_error(det: Detector[Any], exc: Exception) -> Leak:
    return Leak(
        kind=det.name,
        summary=f"internal error in the {det.name} detector: {type(exc).__name__}: {exc}",
        details=tuple(traceback.format_exc(limit=4).splitlines()),
        internal_error=True,
    )


def _release_last_failure(collect: bool) -> None:
    """Drop the previous failure's traceback before the next baseline.

    pytest keeps the last exception in ``sys.last_value`` (and friends) for
    post-mortem debugging and deletes it when the next test's call starts. The
    frames it holds keep the failed test's sockets and files alive, so that
    deletion would close them, and raise their ResourceWarnings, inside the next
    test. Deleting it before the baseline charges them to no one; the failed test
    itself reported what was still open as not counted. A collection follows when
    that test left something open: frames often sit in reference cycles.
    """
    for name in ("last_type", "last_value", "last_traceback", "last_exc"):
        if hasattr(sys, name):
            delattr(sys, name)
    if collect:
        gc.collect()


class FixtureTeardowns:
    """Snapshots around wider fixtures' teardowns, adopted into the test's baseline."""

    def __init__(self, checker: LeakChecker) -> None:
        self.checker = checker
        self.pending: dict[int, tuple[TestState, dict[str, Any]]] = {}

    def starts(self, fixturedef: pytest.FixtureDef[Any], state: TestState) -> None:
        self.pending[id(fixturedef)] = (state, self.checker.snapshot_all(state, restores=True))

    def pytest_fixture_post_finalizer(self, fixturedef: pytest.FixtureDef[Any]) -> None:
        entry = self.pending.pop(id(fixturedef), None)
        if entry is not None:
            state, before = entry
            after = self.checker.snapshot_all(state, restores=True)
            self.checker.adopt(state, before, after)
