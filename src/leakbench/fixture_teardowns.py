"""What a wider-scoped fixture's teardown undoes belongs to the fixture, not the test.

A module-scoped fixture that sets an environment variable and removes it at the
end of the module does so during the last test's teardown; without this, that
test would be blamed for removing it. Only detectors for which undoing is a
change (``Detector.restores_matter``: ``globals``) are snapshotted, around each
wider fixture's teardown: before it, from a finalizer that ``LeakCheck`` adds
after the fixture's setup (finalizers run last-added first, so it runs before the
fixture's own teardown), and after it, in ``pytest_fixture_post_finalizer``
(which pytest runs after all of the fixture's finalizers). Registered only when
such a detector is on: the hook runs for every fixture.
"""

from __future__ import annotations

from typing import Any

import pytest

from leakbench.checker import LeakChecker, TestState

__all__ = ["FixtureTeardowns"]


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
