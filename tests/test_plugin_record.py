"""The ``leakbench-tests`` results file read back with ``read_tests``, its writer's reader.

The round trip runs the plugin for real (a pytest subprocess with ``--leaks-rss
--leaks-json``); the refusals and the tolerance of missing readings are shown on small
hand-written documents of the shapes older plugin versions wrote.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from leakbench.plugin.record import SCHEMA, SCHEMA_VERSION, RecordedTest, TestsFileError, read_tests

SUITE = """
def test_passes():
    pass


def test_fails():
    assert False
"""


def test_every_reading_the_plugin_writes_is_read_back(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_two=SUITE)
    result = pytester.runpytest_subprocess(
        "-p", "no:randomly", "-p", "no:cacheprovider", "--leaks-rss", "--leaks-json=out.json"
    )
    result.assert_outcomes(passed=1, failed=1)
    tests = read_tests(pytester.path / "out.json")
    assert {nodeid: test.outcome for nodeid, test in tests.items()} == {
        "test_two.py::test_passes": "passed",
        "test_two.py::test_fails": "failed",
    }
    for test in tests.values():
        assert test.worker == "main" and test.duration is not None and test.duration > 0
        assert test.rss_before is not None and test.rss_after is not None
        assert test.rss_growth == test.rss_after - test.rss_before  # one reading, both ends
        assert test.peak_rss is not None and test.peak_rss >= test.rss_after
        assert test.memory_guard is None and test.leaks == ()


def write(tmp_path: Path, doc: object) -> Path:
    path = tmp_path / "tests.json"
    path.write_text(json.dumps(doc))
    return path


def test_missing_or_malformed_readings_read_as_none(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "schema": SCHEMA,
            "schema_version": 1,
            "tests": {
                "t::old": {"worker": "gw0", "outcome": "passed", "peak_rss": 300},
                "t::odd": {"peak_rss": -1, "rss_before": "100", "rss_growth": -5, "leaks": 3},
                "t::broken": "not a record",
            },
        },
    )
    tests = read_tests(path)
    assert tests == {
        "t::old": RecordedTest("t::old", "gw0", "passed", peak_rss=300),
        "t::odd": RecordedTest("t::odd", "main", "", rss_growth=-5),
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("not json", "cannot read a results file", id="not-json"),
        pytest.param(
            json.dumps({"schema": "leakbench-results"}), "not a leakbench-tests", id="schema"
        ),
        pytest.param(
            json.dumps({"schema": SCHEMA, "schema_version": SCHEMA_VERSION + 1, "tests": {}}),
            f"schema_version {SCHEMA_VERSION + 1} is not one this leakbench reads",
            id="newer",
        ),
        pytest.param(
            json.dumps({"schema": SCHEMA, "schema_version": 1, "tests": []}),
            "'tests' is not a table",
            id="tests-list",
        ),
    ],
)
def test_a_file_that_is_not_a_tests_document_this_version_reads_is_refused(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "tests.json"
    path.write_text(text)
    with pytest.raises(TestsFileError, match=message):
        read_tests(path)


def test_a_missing_file_is_refused_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "missing.json"
    with pytest.raises(TestsFileError, match=re.escape(f"{path}: cannot read")):
        read_tests(path)
