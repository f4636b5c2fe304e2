"""The checker and the hooks treat detectors by what they say about themselves.

``kept_by_traceback``, ``receives_warnings``, ``still_open`` and
``held_by_fixture_values`` are read from the detector, never from its name: fake
detectors added to the registry get the same treatment as the real ones. The checker is
driven directly here, in this process, without a pytest run around it.
"""

from __future__ import annotations

import types
from typing import Any

import pytest

from leakbench import detectors
from leakbench.detectors import REGISTRY, Detector, DetectorConfig
from leakbench.detectors.base import AllowFn
from leakbench.detectors.leak import Leak
from leakbench.plugin import checker as checker_module
from leakbench.plugin import hooks, options, policy
from leakbench.plugin.checker import NOT_COUNTED_FAILED, LeakChecker
from leakbench.plugin.options import Settings


class Plain(Detector[frozenset[str]]):
    """Finds whatever a test put in ``items``."""

    name = "plain"
    description = "items left in a set"

    def __init__(self, config: DetectorConfig) -> None:
        super().__init__(config)
        self.items: set[str] = set()
        self.open_now: bool | None = None
        self.unraisable: list[str] = []

    def snapshot(self) -> frozenset[str]:
        return frozenset(self.items)

    def find(self, baseline: frozenset[str], allowed: AllowFn) -> list[Leak]:
        leaks = [Leak(self.name, f"{item} left", keys=(item,)) for item in self.items - baseline]
        return [leak for leak in leaks if not allowed(leak)]

    def still_open(self, baseline: frozenset[str]) -> bool | None:
        return self.open_now


class Kept(Plain):
    name = "kept"
    kept_by_traceback = True


class Listener(Plain):
    name = "listener"
    receives_warnings = True

    def record_unraisable(self, summary: str, traceback_lines: list[str]) -> None:
        self.unraisable.append(summary)


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> None:
    for cls in (Plain, Kept, Listener):
        monkeypatch.setitem(REGISTRY, cls.name, cls)


def checker_of(*names: str) -> LeakChecker:
    return LeakChecker(Settings(enabled=names))


def fake(checker: LeakChecker, name: str) -> Plain:
    det = checker.detectors[name]
    assert isinstance(det, Plain)
    return det


@pytest.mark.parametrize("failed", [True, False], ids=["failed", "passed"])
def test_only_kinds_a_traceback_keeps_alive_are_excused_when_the_test_failed(
    fakes: None, failed: bool
) -> None:
    checker = checker_of("plain", "kept")
    state = checker.begin()
    for name in ("plain", "kept"):
        fake(checker, name).items.add("socket")
    state.failed = failed
    excused = {leak.kind: leak.excused for leak in checker.finish(state)}
    assert excused == {"plain": "", "kept": NOT_COUNTED_FAILED if failed else ""}


def test_unraisable_exceptions_go_to_every_detector_that_receives_warnings(fakes: None) -> None:
    checker = checker_of("plain", "listener")
    assert checker.warning_receivers == [checker.detectors["listener"]]
    previous: list[Any] = []
    hook = hooks._chained_unraisable_hook(checker, previous.append)
    unraisable = types.SimpleNamespace(
        object="a dropped pool",
        exc_type=ValueError,
        exc_value=ValueError("closed twice"),
        exc_traceback=None,
        err_msg=None,
    )
    hook(unraisable)
    assert fake(checker, "listener").unraisable == [
        "Exception ignored in: 'a dropped pool': ValueError: closed twice"
    ]
    assert fake(checker, "plain").unraisable == []
    assert previous == [unraisable]  # pytest's own hook still sees it


@pytest.mark.parametrize(
    ("open_now", "collected"),
    [
        pytest.param(True, True, id="still-open"),
        pytest.param(False, False, id="all-closed"),
        pytest.param(None, True, id="cannot-tell"),
    ],
)
def test_garbage_is_collected_at_teardown_unless_a_detector_says_nothing_new_is_open(
    fakes: None, monkeypatch: pytest.MonkeyPatch, open_now: bool | None, collected: bool
) -> None:
    collections: list[int] = []
    monkeypatch.setattr(
        checker_module, "gc", types.SimpleNamespace(collect=lambda: collections.append(1))
    )
    checker = checker_of("listener", "plain")
    fake(checker, "plain").open_now = open_now
    state = checker.begin()
    state.resources -= 1  # as if the test had opened a file since its baseline
    checker.collect_garbage(state)
    assert bool(collections) == collected


def test_no_collection_without_a_detector_that_receives_warnings(
    fakes: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    collections: list[int] = []
    monkeypatch.setattr(
        checker_module, "gc", types.SimpleNamespace(collect=lambda: collections.append(1))
    )
    checker = checker_of("plain")
    state = checker.begin()
    state.resources -= 1
    checker.collect_garbage(state)
    assert collections == []


def test_only_a_detector_of_live_objects_needs_the_fixture_values_dropped() -> None:
    assert checker_of("objects").held_by_fixture_values
    assert not checker_of(*(n for n in detectors.known() if n != "objects")).held_by_fixture_values


def test_the_help_texts_list_every_detector_of_the_registry() -> None:
    for name in detectors.known():
        assert f"{name}: {REGISTRY[name].description}" in options.HELP_LEAKS
        assert name in policy.MARKERS[0]
