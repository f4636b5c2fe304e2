"""No plugin option swallows a test path, and no option overwrites a file leakbench did not write.

``pytest --leakbench-bench tests/test_x.py`` once took the test file as the results path and
replaced it with JSON. Now ``--leaks-bench`` is a flag (the path stays a path), the results
go to ``--leaks-bench-json PATH``, the old names are refused with the new one, and every
file an option writes (``--leaks-bench-json``, ``--leaks-json``) is replaced only when it is
absent, empty or a document of that option's own schema, checked before any test runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import PLUGIN_INI
from leakbench.gate.results import load_results
from leakbench.plugin.sources import check_output

TEST_FILE = """
import pytest


@pytest.mark.leakbench(time=False)
def test_measured():
    [str(i) for i in range(10)]


def test_plain():
    pass
"""

PLUGIN = ("-p", "no:randomly", "-p", "no:cacheprovider")
FOREIGN = {
    "test-file": TEST_FILE,
    "other-json": '{"schema": "someone-else", "data": [1, 2, 3]}\n',
    "text": "notes that are not JSON\n",
    "tests-document-for-bench": '{"schema": "leakbench-tests", "schema_version": 1}\n',
}


pytestmark = pytest.mark.usefixtures("not_an_xdist_worker")  # conftest.py


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini(PLUGIN_INI)
    pytester.mkdir("tests")
    (pytester.path / "tests" / "test_bench_cache.py").write_text(TEST_FILE, encoding="utf-8")
    return pytester


def test_a_test_path_after_leaks_bench_stays_a_path_and_is_not_written(
    project: pytest.Pytester,
) -> None:
    test_file = project.path / "tests" / "test_bench_cache.py"
    before = test_file.read_bytes()
    result = project.runpytest_subprocess(
        *PLUGIN, "--leaks-bench", "tests/test_bench_cache.py", "--leaks-bench-iterations=2"
    )
    result.assert_outcomes(passed=2)  # collected from the path, not taken as the results file
    assert test_file.read_bytes() == before
    results = load_results(project.path / ".leakbench" / "results" / "pytest-latest.json")
    assert set(results.scenarios) == {"tests/test_bench_cache.py::test_measured"}


def test_an_existing_results_document_is_replaced(project: pytest.Pytester) -> None:
    old = project.path / "out.json"
    old.write_text('{"schema": "leakbench-results", "schema_version": 2}', encoding="utf-8")
    result = project.runpytest_subprocess(
        *PLUGIN, "--leaks-bench-json", "out.json", "--leaks-bench-iterations=2", "tests"
    )
    result.assert_outcomes(passed=2)  # --leaks-bench-json on the command line turns it on
    assert set(load_results(old).scenarios) == {"tests/test_bench_cache.py::test_measured"}


@pytest.mark.parametrize("content", FOREIGN.values(), ids=FOREIGN.keys())
def test_an_existing_foreign_file_is_refused_before_any_test_and_left_unchanged(
    project: pytest.Pytester, content: str
) -> None:
    target = project.path / "tests" / "victim.txt"
    target.write_text(content, encoding="utf-8")
    result = project.runpytest("-p", "no:cacheprovider", "--leaks-bench-json", "tests/victim.txt")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.lines[0] == (
        "ERROR: leakbench: --leaks-bench-json: tests/victim.txt exists and is not a "
        "leakbench-results document; leakbench will not overwrite it: name another file, "
        "or delete this one first"
    )
    assert "passed" not in result.stdout.str()
    assert target.read_text(encoding="utf-8") == content


def test_the_test_file_itself_given_as_the_results_path_is_refused(
    project: pytest.Pytester,
) -> None:
    test_file = project.path / "tests" / "test_bench_cache.py"
    before = test_file.read_bytes()
    result = project.runpytest(
        "-p", "no:cacheprovider", "--leaks-bench-json", "tests/test_bench_cache.py"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: leakbench: --leaks-bench-json: tests/test_bench_cache.py"
            " exists and is not a leakbench-results document; *"
        ]
    )
    assert test_file.read_bytes() == before


@pytest.mark.parametrize(
    ("args", "ini", "message"),
    [
        pytest.param(
            ["--leakbench-bench", "tests/test_bench_cache.py"],
            "",
            "--leakbench-bench was renamed: use --leaks-bench (and --leaks-bench-json PATH "
            "for where)",
            id="old-flag-before-a-path",
        ),
        pytest.param(
            ["--leakbench-bench=out.json"],
            "",
            "--leakbench-bench was renamed: use --leaks-bench (and --leaks-bench-json PATH "
            "for where)",
            id="old-flag-with-a-value",
        ),
        pytest.param(
            ["--leakbench-iterations=3"],
            "",
            "--leakbench-iterations was renamed: use --leaks-bench-iterations",
            id="old-iterations",
        ),
        pytest.param(
            [],
            "leakbench_seconds = 0.5",
            "ini option leakbench_seconds was renamed: use leaks_bench_seconds",
            id="old-ini-key",
        ),
    ],
)
def test_the_old_option_names_are_refused_with_the_new_one(
    project: pytest.Pytester, args: list[str], ini: str, message: str
) -> None:
    project.makeini(f"{PLUGIN_INI}{ini}\n")
    test_file = project.path / "tests" / "test_bench_cache.py"
    before = test_file.read_bytes()
    result = project.runpytest("-p", "no:cacheprovider", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.lines[0] == f"ERROR: leakbench: {message}"
    assert test_file.read_bytes() == before
    assert not (project.path / "out.json").exists()


def test_an_old_key_in_tool_leakbench_is_refused_with_the_new_one(
    project: pytest.Pytester,
) -> None:
    project.makepyprojecttoml("[tool.leakbench]\nleakbench_bench = true\n")
    result = project.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.lines[0] == (
        "ERROR: leakbench: pyproject.toml [tool.leakbench]: unknown key 'leakbench_bench' "
        "(renamed: leaks_bench)"
    )


def test_the_old_names_are_hidden_from_the_help(project: pytest.Pytester) -> None:
    result = project.runpytest("-p", "no:cacheprovider", "--help")
    text = result.stdout.str()
    assert "--leaks-bench-json=PATH" in text
    assert "--leakbench-bench" not in text and "--leakbench-iterations" not in text


def test_leaks_json_refuses_a_test_file_and_replaces_its_own_document(
    project: pytest.Pytester,
) -> None:
    test_file = project.path / "tests" / "test_bench_cache.py"
    before = test_file.read_bytes()
    refused = project.runpytest("-p", "no:cacheprovider", "--leaks-json", str(test_file))
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    refused.stderr.fnmatch_lines(
        [
            "ERROR: leakbench: --leaks-json: *test_bench_cache.py exists and is not a "
            "leakbench-tests document; *"
        ]
    )
    assert test_file.read_bytes() == before
    own = project.path / "tests.json"
    own.write_text('{"schema": "leakbench-tests", "schema_version": 1, "tests": {}}')
    result = project.runpytest_subprocess(*PLUGIN, "--leaks-json", "tests.json", "tests")
    result.assert_outcomes(passed=2)
    assert len(json.loads(own.read_text(encoding="utf-8"))["tests"]) == 2


@pytest.mark.parametrize(
    ("name", "content", "allowed"),
    [
        pytest.param("absent.json", None, True, id="absent"),
        pytest.param("empty.json", "", True, id="empty"),
        pytest.param("own.json", '  {"schema": "leakbench-results"}', True, id="own-schema"),
        pytest.param("list.json", '[{"schema": "leakbench-results"}]', False, id="json-list"),
        pytest.param("broken.json", '{"schema": "leakbench-results"', False, id="truncated"),
        pytest.param("binary.bin", "\x00\x01\x02", False, id="binary"),
    ],
)
def test_check_output_allows_only_what_leakbench_may_replace(
    tmp_path: Path, name: str, content: str | None, allowed: bool
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    if allowed:
        assert check_output(path, "leakbench-results", "--opt", name) == path
    else:
        with pytest.raises(pytest.UsageError, match=f"^leakbench: --opt: {name} exists and"):
            check_output(path, "leakbench-results", "--opt", name)
        assert path.read_text(encoding="utf-8") == content


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        pytest.param(".", "is a folder; name a file", id="folder"),
        pytest.param("file.txt/out.json", "cannot be written (Not a directory)", id="under-a-file"),
        pytest.param("bad\x00name", "cannot be written (embedded null byte)", id="nul-byte"),
    ],
)
def test_check_output_refuses_paths_that_cannot_be_a_file_in_one_line(
    tmp_path: Path, relative: str, expected: str
) -> None:
    (tmp_path / "file.txt").write_text("x", encoding="utf-8")
    with pytest.raises(pytest.UsageError) as info:
        check_output(tmp_path / relative, "leakbench-results", "--opt", relative)
    assert expected in str(info.value) and "\n" not in str(info.value)
