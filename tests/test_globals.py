"""``--leaks=globals``: state a test changed and left for the next test to find."""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Any, ClassVar

import pytest

from conftest import Run
from leakbench.detectors import DetectorConfig
from leakbench.detectors.globals_state import (
    GlobalsDetector,
    fingerprint,
    resolve_dotted,
    user_watch,
)

REPO = Path(__file__).resolve().parent.parent


class Registry:
    """A singleton cache like the ones the detector watches."""

    items: ClassVar[dict[str, Any]] = {}
    instance: ClassVar[object | None] = None


def never_allowed(leak: Any) -> bool:
    return False


@pytest.fixture
def registry() -> GlobalsDetector:
    Registry.items.clear()
    Registry.instance = None
    config = DetectorConfig(globals_watch=(f"{__name__}.Registry.items",))
    return GlobalsDetector(config)


def test_a_cache_that_gained_keys_is_reported_with_the_keys(registry: GlobalsDetector) -> None:
    before = registry.snapshot()
    Registry.items["settings"] = object()
    Registry.items["tenant-1"] = object()
    [leak] = registry.find(before, never_allowed)
    assert leak.kind == "globals"
    assert leak.summary == (
        f"{__name__}.Registry.items changed: added 2 keys ('settings', 'tenant-1')"
    )
    assert leak.details[0].startswith("+ 'settings' = <object object at")
    assert "state leaking between tests" in leak.details[-1]


def test_an_unchanged_cache_and_a_restored_environment_are_not_reported(
    registry: GlobalsDetector, monkeypatch: pytest.MonkeyPatch
) -> None:
    Registry.items["kept"] = 1
    before = registry.snapshot()
    with monkeypatch.context() as patch:
        patch.setenv("LEAKBENCH_TEST_VAR", "1")
        patch.syspath_prepend("/nowhere")
    assert registry.find(before, never_allowed) == []


def test_a_replaced_value_and_an_environment_change_are_told_apart(
    registry: GlobalsDetector, monkeypatch: pytest.MonkeyPatch
) -> None:
    Registry.items["client"] = object()
    monkeypatch.setenv("LEAKBENCH_REMOVED", "x")
    before = registry.snapshot()
    Registry.items["client"] = object()
    os.environ["LEAKBENCH_ADDED"] = "yes"
    os.environ["LEAKBENCH_API_TOKEN"] = "s3cret"
    del os.environ["LEAKBENCH_REMOVED"]
    try:
        leaks = {leak.keys[0]: leak for leak in registry.find(before, never_allowed)}
    finally:
        del os.environ["LEAKBENCH_ADDED"], os.environ["LEAKBENCH_API_TOKEN"]
    env = leaks["os.environ"]
    assert env.summary == (
        "os.environ changed: added 2 variables (LEAKBENCH_ADDED, LEAKBENCH_API_TOKEN); "
        "removed 1 variable (LEAKBENCH_REMOVED)"
    )
    assert "+ LEAKBENCH_ADDED = 'yes'" in env.details
    assert "+ LEAKBENCH_API_TOKEN = <hidden>" in env.details
    assert leaks[f"{__name__}.Registry.items"].summary.endswith("changed 1 key ('client')")


def test_a_singleton_that_appeared_is_reported_with_its_type() -> None:
    Registry.instance = None
    detector = GlobalsDetector(DetectorConfig(globals_watch=(f"{__name__}.Registry.instance",)))
    before = detector.snapshot()
    Registry.instance = Registry()
    try:
        [leak] = [x for x in detector.find(before, never_allowed) if x.keys[0].endswith("instance")]
    finally:
        Registry.instance = None
    assert leak.summary.startswith(
        f"{__name__}.Registry.instance changed: None -> <Registry object"
    )


def test_what_a_wider_fixture_set_joins_the_baseline_and_the_tests_own_change_still_counts(
    registry: GlobalsDetector,
) -> None:
    name = f"{__name__}.Registry.items"
    baseline = registry.snapshot()
    Registry.items["by-test"] = 1
    before = registry.snapshot()
    Registry.items["by-fixture"] = 2
    baseline = registry.adopt(baseline, before, registry.snapshot())
    [leak] = registry.find(baseline, never_allowed)
    assert leak.summary == f"{name} changed: added 1 key ('by-test')"


def test_fingerprints_are_bounded_and_keep_only_identities_of_values() -> None:
    big = {i: object() for i in range(5000)}
    assert fingerprint(big) == ("len", 5000)
    value = object()
    kind, entries = fingerprint(OrderedDict(a=value))
    assert kind == "map" and entries["a"] == ("<id>", id(value), "object")
    assert fingerprint([1, "a"]) == ("seq", (1, "a"))
    assert fingerprint({1}) == ("set", frozenset({1}))


def test_a_dotted_name_that_does_not_resolve_says_what_is_missing() -> None:
    with pytest.raises(ValueError, match="os has no attribute 'nope'"):
        resolve_dotted("os.nope.deeper")
    with pytest.raises(ValueError, match="No module named 'leakbench_no_such_module'"):
        resolve_dotted("leakbench_no_such_module.x")
    with pytest.raises(ValueError, match="is not a dotted name"):
        user_watch("os..environ")


STATE_TESTS = """
import io
import logging
import os
import sys

import pytest


@pytest.fixture(scope="module")
def module_env():
    os.environ["SET_FOR_THE_MODULE"] = "1"
    yield
    del os.environ["SET_FOR_THE_MODULE"]


def test_env(module_env):
    os.environ["LEFT_BEHIND"] = "1"


def test_path():
    sys.path.append("/nowhere")


def test_cwd(tmp_path):
    os.chdir(tmp_path)


def test_handler():
    logging.getLogger("app").addHandler(logging.StreamHandler(io.StringIO()))


def test_library_import_style_null_handler():
    logging.getLogger("some.library").addHandler(logging.NullHandler())


def test_clean(module_env, monkeypatch, tmp_path):
    monkeypatch.setenv("PATCHED", "1")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    logging.getLogger("app").info("logged through pytest's capture handlers")
"""


def test_each_builtin_watch_names_the_test_that_changed_it_and_clean_twins_pass(
    leak_project: pytest.Pytester, run: Run
) -> None:
    leak_project.makepyfile(test_state=STATE_TESTS)
    result = run("-p", "no:randomly", "--leaks=globals")
    result.assert_outcomes(passed=6, errors=4)
    result.stdout.fnmatch_lines(
        [
            "*= leakbench: leaking tests by kind =*",
            "globals: 4 leak(s) in 4 test(s)",
            "  test_state.py::test_env: os.environ changed: added 1 variable (LEFT_BEHIND)",
            "  test_state.py::test_path: sys.path changed: added 1 entry ('/nowhere')",
            "  test_state.py::test_cwd: cwd changed: * -> '*test_cwd0'",
            "  test_state.py::test_handler: logging changed: "
            "added 1 handler (app: StreamHandler(StringIO, NOTSET))",
        ]
    )
    result.stdout.no_fnmatch_line("*SET_FOR_THE_MODULE*")  # the module fixture's, set and undone
    result.stdout.no_fnmatch_line("*test_clean*")
    result.stdout.no_fnmatch_line("*some.library*")


LOCATOR_PAIR = """
from suites.locator import configure_sandbox, expect_default_endpoint


def test_configure_sandbox():
    configure_sandbox("leaky")


def test_default_endpoint():
    expect_default_endpoint("leaky")
"""


def test_the_locator_pair_under_xdist_names_the_test_that_changed_the_cache(
    leak_project: pytest.Pytester, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    leak_project.makepyfile(test_pair=LOCATOR_PAIR)
    watch = "--leaks-globals=suites.locator.LeakyServiceLocator._cache"
    # loadfile: both tests share a worker, as they would among many tests under -n.
    result = run("-p", "no:randomly", "-n", "2", "--dist=loadfile", "--leaks=globals", watch)
    result.assert_outcomes(passed=1, failed=1, errors=1)
    result.stdout.fnmatch_lines_random(
        [
            "*_ ERROR at teardown of test_configure_sandbox _*",
            "[[]globals[]] suites.locator.LeakyServiceLocator._cache changed: "
            "added 1 key ('settings')",
            "    (state leaking between tests: later tests in this process see the change, *",
            "E       AssertionError: leaked from another test: https://sandbox.example.invalid/v1",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "globals: 1 leak(s) in 1 test(s)",
            "  test_pair.py::test_configure_sandbox: suites.locator.LeakyServiceLocator._cache "
            "changed: added 1 key ('settings')",
        ]
    )


def test_a_watch_that_does_not_import_is_a_usage_error_naming_it(
    leak_project: pytest.Pytester, run: Run
) -> None:
    leak_project.makeini(
        "[pytest]\nleaks_globals =\n    os.environ\n    no_such_pkg.Cache._items\n"
    )
    leak_project.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    result = run("--leaks=default,globals")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: leakbench: ini option leaks_globals: cannot resolve "
            "'no_such_pkg.Cache._items': No module named 'no_such_pkg'"
        ]
    )
