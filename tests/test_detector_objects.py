"""The objects detector: ``pytest --leaks=objects`` on a test that keeps every object it
makes, and the detector driven directly (counting rules, adoption, the frozen heap).

The direct cases run in this process and drop what they keep before they end.
"""

from __future__ import annotations

import gc
import sys
import unittest.mock
from pathlib import Path

import pytest

from leakbench.detectors.base import DetectorConfig
from leakbench.detectors.leak import Leak
from leakbench.detectors.objects import ObjectsDetector, type_key
from leakbench.plugin.policy import allow_matcher

CONFIG = DetectorConfig(objects_threshold=100)


def nothing_allowed(leak: Leak) -> bool:
    return False


INI = """
[pytest]
filterwarnings = error
asyncio_default_fixture_loop_scope = function
"""


def test_a_thousand_objects_appended_to_a_module_list_are_reported_and_a_clean_twin_is_not(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(
        test_orders="""
        import pytest


        class Order:
            def __init__(self, number):
                self.number = number


        PROCESSED = []


        @pytest.fixture(scope="module")
        def catalogue():
            # Owned by the module fixture, not by the first test that uses it.
            return [Order(n) for n in range(500)]


        def test_totals_orders_without_keeping_them(catalogue):
            assert sum(Order(n).number for n in range(1000)) == 499500


        def test_keeps_every_order_it_processes(catalogue):
            for n in range(1000):
                PROCESSED.append(Order(n))


        def test_mocks_a_thousand_calls(catalogue):
            from unittest import mock

            api = mock.Mock()
            for n in range(1000):
                api.send(n)
            api.send.reset_mock()
        """
    )
    result = pytester.runpytest_subprocess("--leaks=objects", "-p", "no:cacheprovider", timeout=60)
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*test_keeps_every_order_it_processes leaked 1 resource(s): objects",
            "[[]objects[]] 1000 more test_orders.Order objects alive after the test",
            "    ~* retained (* objects: the 1000 and what only they hold, counted once)",
            "*held by a list of 1000 items (global test_orders.PROCESSED)",
        ]
    )
    result.stdout.no_fnmatch_line("*test_totals_orders_without_keeping_them leaked*")
    result.stdout.no_fnmatch_line("*test_mocks_a_thousand_calls leaked*")


# -- the detector driven directly ----------------------------------------------


class Widget:
    def __init__(self, n: int) -> None:
        self.n = n


def test_objects_kept_in_a_list_are_counted_sized_and_their_holder_named() -> None:
    detector = ObjectsDetector(DetectorConfig(objects_threshold=100))
    baseline = detector.snapshot()
    kept = [Widget(n) for n in range(300)]
    leaks = detector.find(baseline, nothing_allowed)
    assert gc.get_freeze_count() == 0
    assert len(leaks) == 1
    assert leaks[0].kind == "objects"
    assert leaks[0].summary == f"300 more {__name__}.Widget objects alive after the test"
    assert leaks[0].keys == (f"{__name__}.Widget",)
    assert "retained" in leaks[0].details[0]
    assert leaks[0].details[1].startswith("held by a list of 300 items")
    del kept


def test_objects_that_die_are_not_counted() -> None:
    detector = ObjectsDetector(DetectorConfig(objects_threshold=100))
    baseline = detector.snapshot()
    cycles: list[list[object]] = [[Widget(n)] for n in range(300)]
    for cycle in cycles:
        cycle.append(cycle)  # a reference cycle: only the collector frees these
    del cycles, cycle
    assert detector.find(baseline, nothing_allowed) == []


def test_growth_below_the_threshold_is_not_a_leak() -> None:
    detector = ObjectsDetector(DetectorConfig(objects_threshold=100))
    baseline = detector.snapshot()
    kept = [Widget(n) for n in range(99)]
    assert detector.find(baseline, nothing_allowed) == []
    del kept


def test_mocks_are_grouped_under_their_class_and_their_parts_charged_to_them() -> None:
    assert type_key(type(unittest.mock.MagicMock())) == "unittest.mock.MagicMock"
    detector = ObjectsDetector(DetectorConfig(objects_threshold=100))
    baseline = detector.snapshot()
    kept = [unittest.mock.Mock() for _ in range(150)]
    for mock in kept:
        mock.ping()  # two child mocks each: ``ping`` and its return value
    leaks = detector.find(baseline, nothing_allowed)
    summaries = [leak.summary for leak in leaks]
    # One line: not 450 one-off subclasses, nor their call lists and dicts.
    assert summaries == ["450 more unittest.mock.Mock objects alive after the test"]
    del kept


def test_what_a_module_first_imported_during_the_test_creates_is_not_a_leak(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = "\n".join(
        f"class C{i}:\n    def m(self): return {i}\nTABLE{i} = {{'k': [{i}, ({i},)]}}"
        for i in range(200)
    )
    (tmp_path / "leakbench_fresh_module.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    detector = ObjectsDetector(DetectorConfig(objects_threshold=100))
    baseline = detector.snapshot()
    __import__("leakbench_fresh_module")
    try:
        assert detector.find(baseline, nothing_allowed) == []
    finally:
        del sys.modules["leakbench_fresh_module"]


def test_what_a_wider_fixture_creates_inside_a_test_is_adopted() -> None:
    detector = ObjectsDetector(DetectorConfig(objects_threshold=100))
    baseline = detector.snapshot()
    before = detector.snapshot()  # around a session fixture's setup: a census, no freeze
    fixture_value = [Widget(n) for n in range(300)]
    after = detector.snapshot()
    baseline = detector.adopt(baseline, before, after)
    test_leak = [Widget(n) for n in range(120)]
    leaks = detector.find(baseline, nothing_allowed)
    assert [leak.summary for leak in leaks] == [
        f"120 more {__name__}.Widget objects alive after the test"
    ]
    assert gc.get_freeze_count() == 0
    del fixture_value, test_leak


def test_the_heap_is_unfrozen_even_when_the_check_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    detector = ObjectsDetector(CONFIG)
    baseline = detector.snapshot()
    assert gc.get_freeze_count() > 0

    def broken() -> list[object]:
        raise RuntimeError("boom")

    monkeypatch.setattr(gc, "get_objects", broken)
    with pytest.raises(RuntimeError):
        detector.find(baseline, nothing_allowed)
    assert gc.get_freeze_count() == 0


def test_an_allowed_type_is_not_reported() -> None:
    detector = ObjectsDetector(DetectorConfig(objects_threshold=100))
    baseline = detector.snapshot()
    kept = [Widget(n) for n in range(300)]
    allowed = allow_matcher([f"objects:{__name__}.*"])
    assert detector.find(baseline, allowed) == []
    del kept
