"""The bad-input matrix of the command line (issue 14, the CLI, git and store part).

Every unusable value or file given to ``bench``, ``compare``, ``baseline``, ``report`` and
``compare-branches`` ends the same way: exit 2, one ``leakbench: error:`` line on stderr
naming the value or the file (and what to do), nothing measured when it could be known
before measuring, and every file of the project byte-identical afterwards. The cases run
in-process through click's ``CliRunner``; only the full disk needs real measuring (one
scenario, memory only) on a real tiny filesystem.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from conftest import PLUGIN_INI
from leakbench.cli.main import cli
from leakbench.gate.store import LATEST, RESULTS_DIR
from test_compare_support import KEY, env, memory, results, scenario, timing, write

Snapshot = dict[str, bytes]


def snapshot(root: Path) -> Snapshot:
    """Every file under ``root`` (symlinks by their target text), to prove nothing changed."""
    found: Snapshot = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if "__pycache__" in rel:
            continue
        if path.is_symlink():
            found[rel] = b"-> " + os.readlink(path).encode()
        elif path.is_file():
            found[rel] = path.read_bytes()
        elif path.is_dir():
            found[rel + "/"] = b""
    return found


def invoke(args: list[str]) -> Result:
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def assert_one_line(result: Result, *needles: str, progress: bool = False) -> str:
    """Exit 2 and exactly one ``leakbench: error:`` line holding every needle (after the
    progress lines of a run that measured, with ``progress``)."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    if progress:
        lines = [line for line in lines if not line.startswith(("[", "bench "))]
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("leakbench: error: "), lines[0]
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project directory as the current directory."""
    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.chdir(root)
    return root


SUITE_MODULE = textwrap.dedent(
    """\
    from contextlib import contextmanager

    from leakbench.gate.scenarios import Scenario


    @contextmanager
    def _session():
        yield lambda: None


    SCENARIOS = [Scenario("tiny.clean", "tiny", "clean", (), _session, bench_iterations=2)]
    """
)


def write_suite(root: Path) -> str:
    """A one-scenario package with a fresh name (in-process imports are cached by name)."""
    name = f"lb_cli_suite_{uuid.uuid4().hex[:8]}"
    (root / name).mkdir()
    (root / name / "__init__.py").write_text("")
    (root / name / "tiny.py").write_text(SUITE_MODULE)
    return name


# ---------------------------------------------------------------------------------------
# bench: refused before anything is measured
# ---------------------------------------------------------------------------------------


def _plain_module(root: Path) -> str:
    (root / "lb_plain_module.py").write_text("X = 1\n")
    return "lb_plain_module"


def _namespace_folder(root: Path) -> str:
    (root / "lb_empty_folder").mkdir()
    return "lb_empty_folder"


def _broken_package(root: Path) -> str:
    name = f"lb_broken_{uuid.uuid4().hex[:8]}"
    (root / name).mkdir()
    (root / name / "__init__.py").write_text("raise RuntimeError('broken on purpose')\n")
    return name


BAD_SUITES: list[tuple[str, Callable[[Path], str], str]] = [
    ("row4-parent-path", lambda root: "../../etc", "dotted name of a package"),
    ("row4-empty", lambda root: "", "dotted name of a package"),
    ("row4-stdlib-module", lambda root: "os.path", "a module, not a package"),
    ("row4-leading-dot", lambda root: ".suites", "dotted name of a package"),
    ("row4-missing-folder", lambda root: "lb_no_such_folder", "no such package"),
    ("row4-module-not-package", _plain_module, "a module, not a package"),
    ("row4-folder-without-scenarios", _namespace_folder, "no module of it defines SCENARIOS"),
    ("row4-package-that-fails-to-import", _broken_package, "broken on purpose"),
]


@pytest.mark.parametrize(("value", "needle"), [(v, n) for _, v, n in BAD_SUITES],
                         ids=[i for i, _, _ in BAD_SUITES])  # fmt: skip
def test_a_bad_suites_value_is_one_line_and_nothing_is_measured(
    project: Path, value: Callable[[Path], str], needle: str
) -> None:
    suites = value(project)
    before = snapshot(project)
    result = invoke(["bench", "--suites", suites, "--no-compare"])
    assert_one_line(result, f"--suites {suites!r}", needle)
    assert snapshot(project) == before  # no .leakbench/, nothing written
    assert "bench" not in result.stdout


BAD_BENCH_OPTIONS = [
    pytest.param(["--time-budget", "nan"], ["--time-budget", "'nan'"], id="row18-budget-nan"),
    pytest.param(["--time-budget", "inf"], ["--time-budget", "'inf'"], id="row18-budget-inf"),
    pytest.param(["--time-budget", "-1"], ["--time-budget", "'-1'"], id="row18-budget-negative"),
    pytest.param(["--time-budget", "0"], ["--time-budget", "above 0"], id="row18-budget-zero"),
    pytest.param(["--time-budget", "soon"], ["--time-budget", "'soon'"], id="budget-not-a-number"),
    pytest.param(["--iterations", "0"], ["--iterations", "at least 1"], id="iterations-zero"),
    pytest.param(["--iterations", "x"], ["--iterations", "'x'", "integer"], id="iterations-text"),
    pytest.param(["--time-processes", "0"], ["--time-processes"], id="time-processes-zero"),
    pytest.param(["--memory-only", "--time-only"], ["exclude each other"], id="passes-exclusive"),
    pytest.param(["--no-such-option"], ["--no-such-option"], id="unknown-option"),
    pytest.param(["no.such.scenario"], ["no.such.scenario"], id="unknown-scenario"),
]


@pytest.mark.parametrize(("args", "needles"), BAD_BENCH_OPTIONS)
def test_a_bad_bench_option_is_one_line_before_measuring(
    project: Path, args: list[str], needles: list[str]
) -> None:
    suites = write_suite(project)
    before = snapshot(project)
    result = invoke(["bench", "--suites", suites, "--no-compare", *args])
    line = assert_one_line(result, *needles)
    assert "a int" not in line  # click's "a int number"
    assert snapshot(project) == before


def test_an_out_folder_that_does_not_exist_is_refused_before_measuring(project: Path) -> None:
    suites = write_suite(project)
    before = snapshot(project)
    result = invoke(["bench", "--suites", suites, "--no-compare", "--out", "nowhere/run.json"])
    assert_one_line(result, "--out nowhere/run.json", "does not exist")
    assert snapshot(project) == before


def test_an_out_that_is_a_directory_is_refused_before_measuring(project: Path) -> None:
    suites = write_suite(project)
    (project / "adir").mkdir()
    before = snapshot(project)
    result = invoke(["bench", "--suites", suites, "--no-compare", "--out", "adir"])
    assert_one_line(result, "adir", "directory")
    assert snapshot(project) == before


def test_an_out_where_nothing_can_be_written_is_refused_before_measuring(project: Path) -> None:
    # /proc refuses new files even to root, for whom every permission check passes.
    suites = write_suite(project)
    before = snapshot(project)
    result = invoke(["bench", "--suites", suites, "--no-compare", "--out", "/proc/run.json"])
    assert_one_line(result, "/proc/run.json", "cannot write in /proc")
    assert snapshot(project) == before


def test_a_latest_results_path_that_is_a_directory_is_refused_before_measuring(
    project: Path,
) -> None:
    suites = write_suite(project)
    (project / RESULTS_DIR / LATEST).mkdir(parents=True)
    before = snapshot(project)
    result = invoke(["bench", "--suites", suites, "--no-compare"])
    assert_one_line(result, "latest.json", "is a directory", "remove or move")
    assert snapshot(project) == before


def test_a_results_folder_that_is_a_file_is_refused_before_measuring(project: Path) -> None:
    suites = write_suite(project)
    (project / ".leakbench").mkdir()
    (project / RESULTS_DIR).write_text("not a folder\n")
    before = snapshot(project)
    result = invoke(["bench", "--suites", suites, "--no-compare"])
    assert_one_line(result, ".leakbench/results", "is not a folder")
    assert snapshot(project) == before


@pytest.fixture
def tiny_results_disk(project: Path) -> Iterator[Path]:
    """``.leakbench/results`` on a real 64 KiB tmpfs (root only); unmounted afterwards."""
    mount_point = project / RESULTS_DIR
    mount_point.mkdir(parents=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_full_disk_when_writing_the_results_is_one_line_and_leaves_no_partial_file(
    project: Path, tiny_results_disk: Path
) -> None:
    suites = write_suite(project)
    latest = tiny_results_disk / LATEST
    latest.write_text('{"previous": "run"}\n')
    filler = tiny_results_disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:  # fill the disk to its last block (unbuffered, so no write is pending)
        while os.write(fd, b"x" * 1024):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    before = snapshot(tiny_results_disk)
    result = invoke(
        ["bench", "--suites", suites, "--no-compare", "--memory-only", "--no-instructions"]
    )
    line = assert_one_line(
        result, ".leakbench/results", "cannot write", "No space left on device", progress=True
    )
    assert "no partial file" in line
    assert snapshot(tiny_results_disk) == before  # latest.json as it was, no temp file


# ---------------------------------------------------------------------------------------
# compare, baseline, report: bad files
# ---------------------------------------------------------------------------------------


def store_latest(root: Path) -> Path:
    doc = results({"a": scenario(memory(), timing())})
    return write(root / RESULTS_DIR / LATEST, doc)


def stored_baseline(root: Path) -> Path:
    return root / "baselines" / f"{KEY}.json"


def _write_baseline(root: Path) -> Path:
    return write(stored_baseline(root), results({"a": scenario(memory(), timing())}))


def _corrupt(root: Path) -> None:
    _write_baseline(root).write_text('{"schema": "leakbench-results", "schema_ver')


def _loop(root: Path) -> None:
    path = stored_baseline(root)
    path.parent.mkdir(parents=True)
    path.symlink_to(path.name)  # points at itself


def _dangling(root: Path) -> None:
    path = stored_baseline(root)
    path.parent.mkdir(parents=True)
    path.symlink_to("gone.json")


def _newer(root: Path) -> None:
    path = _write_baseline(root)
    doc = json.loads(path.read_text())
    doc["schema_version"] = 99
    path.write_text(json.dumps(doc))


def _other_environment(root: Path) -> None:
    other = "py3.12-linux-x86_64-pyalloc"
    write(stored_baseline(root), results({"a": scenario()}, env(key=other)))


def _not_results(root: Path) -> None:
    stored_baseline(root).parent.mkdir(parents=True)
    stored_baseline(root).write_text('{"hello": 1}')


BAD_STORED_BASELINES = [
    pytest.param(lambda root: None, ["no baseline for environment", "baseline save"],
                 id="baseline-missing"),
    pytest.param(_corrupt, [f"{KEY}.json", "not valid JSON", "git checkout --",
                            "leakbench baseline save"], id="ux-corrupt-committed-baseline-hint"),
    pytest.param(_loop, [f"{KEY}.json", "symlink loop", "git checkout --"],
                 id="ux-baseline-symlink-loop"),
    pytest.param(_dangling, [f"{KEY}.json", "gone.json", "does not exist"],
                 id="baseline-dangling-symlink"),
    pytest.param(_newer, [f"{KEY}.json", "schema_version 99"], id="baseline-newer-schema"),
    pytest.param(_other_environment, [f"{KEY}.json", "py3.12-linux-x86_64-pyalloc"],
                 id="baseline-other-environment"),
    pytest.param(_not_results, [f"{KEY}.json", "not a leakbench-results document"],
                 id="baseline-not-a-results-document"),
]  # fmt: skip


@pytest.mark.parametrize(("make", "needles"), BAD_STORED_BASELINES)
def test_compare_refuses_a_bad_stored_baseline_on_one_line(
    project: Path, make: Callable[[Path], None], needles: list[str]
) -> None:
    store_latest(project)
    make(project)
    before = snapshot(project)
    assert_one_line(invoke(["compare"]), *needles)
    assert snapshot(project) == before


def test_report_names_a_symlink_loop_at_the_stored_baseline(project: Path) -> None:
    store_latest(project)
    _loop(project)
    before = snapshot(project)
    result = invoke(["report", "--html", "out/index.html", "--no-flamegraphs"])
    assert_one_line(result, "symlink loop")
    assert snapshot(project) == before


def _truncated(path: Path) -> None:
    text = path.read_text()
    path.write_text(text[: len(text) // 2])


BAD_RESULTS = [
    pytest.param(lambda p: p.unlink(), ["latest.json", "run `leakbench bench` first"],
                 id="results-missing"),
    pytest.param(_truncated, ["latest.json", "not valid JSON"], id="results-truncated"),
    pytest.param(lambda p: p.write_text("[1, 2]"), ["latest.json", "not a leakbench-results"],
                 id="results-not-a-document"),
    pytest.param(lambda p: p.write_bytes(b"\xff\xfe\x00"), ["latest.json", "cannot read"],
                 id="results-not-utf8"),
]  # fmt: skip


@pytest.mark.parametrize(("spoil", "needles"), BAD_RESULTS)
@pytest.mark.parametrize("command", [["compare"], ["baseline", "save"]])
def test_compare_and_baseline_save_refuse_bad_latest_results(
    project: Path, spoil: Callable[[Path], None], needles: list[str], command: list[str]
) -> None:
    baseline = _write_baseline(project)
    spoil(store_latest(project))
    before = snapshot(project)
    assert_one_line(invoke(command), *needles)
    assert snapshot(project) == before
    assert baseline.read_bytes() == before[f"baselines/{KEY}.json"]


def test_compare_names_an_unknown_scenario(project: Path) -> None:
    store_latest(project)
    _write_baseline(project)
    assert_one_line(invoke(["compare", "-s", "no.such"]), "no.such")


def test_compare_names_an_explicit_baseline_that_does_not_exist(project: Path) -> None:
    store_latest(project)
    assert_one_line(invoke(["compare", "nope.json"]), "nope.json", "no such baseline file")


def test_compare_names_a_bad_format(project: Path) -> None:
    assert_one_line(invoke(["compare", "--format", "yaml"]), "--format", "'yaml'")


def test_compare_names_a_bad_budget_in_the_config(project: Path) -> None:
    store_latest(project)
    _write_baseline(project)
    (project / "pyproject.toml").write_text("[tool.leakbench]\nmemory_budget = 'lots'\n")
    assert_one_line(invoke(["compare"]), "memory_budget", "'lots'")


def test_report_without_html_is_one_line(project: Path) -> None:
    assert_one_line(invoke(["report"]), "--html")


def test_an_unknown_command_is_one_line(project: Path) -> None:
    assert_one_line(invoke(["benchh"]), "benchh")


def test_an_unknown_baseline_subcommand_is_one_line(project: Path) -> None:
    assert_one_line(invoke(["baseline", "keep"]), "keep")


# ---------------------------------------------------------------------------------------
# compare-branches: option ranges and git refs
# ---------------------------------------------------------------------------------------


@pytest.fixture
def small_repo(project: Path) -> Path:
    for args in (["init", "-q"], ["commit", "-q", "--allow-empty", "-m", "one"]):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=project, check=True
        )
    return project


BAD_BRANCH_OPTIONS = [
    pytest.param(["--timeout", "0"], ["--timeout", "above 0"], id="ux-timeout-zero"),
    pytest.param(["--timeout", "nan"], ["--timeout", "'nan'"], id="row18-timeout-nan"),
    pytest.param(["--max-time", "inf"], ["--max-time", "'inf'"], id="row18-max-time-inf"),
    pytest.param(["--max-time", "-3"], ["--max-time", "'-3'"], id="row18-max-time-negative"),
    pytest.param(["--pairs", "0"], ["--pairs", "0"], id="pairs-zero"),
    pytest.param(["--pairs", "x"], ["--pairs", "'x'", "an integer"], id="pairs-text"),
    pytest.param(["--memory-only", "--time-only"], ["exclude each other"], id="exclusive"),
]


@pytest.mark.parametrize(("args", "needles"), BAD_BRANCH_OPTIONS)
def test_compare_branches_refuses_a_bad_option_before_touching_git(
    small_repo: Path, args: list[str], needles: list[str]
) -> None:
    before = snapshot(small_repo)
    line = assert_one_line(invoke(["compare-branches", "HEAD", *args]), *needles)
    assert "a int" not in line
    assert snapshot(small_repo) == before


def test_compare_branches_names_a_ref_that_is_not_a_commit(small_repo: Path) -> None:
    before = snapshot(small_repo)
    assert_one_line(invoke(["compare-branches", "no-such-branch"]), "'no-such-branch'", "fetch")
    assert snapshot(small_repo) == before


def test_compare_branches_outside_a_git_checkout_is_one_line(project: Path) -> None:
    assert_one_line(invoke(["compare-branches", "main"]), "not a git repository")


# ---------------------------------------------------------------------------------------
# the allow_leaks marker's reason
# ---------------------------------------------------------------------------------------


def test_allow_leaks_with_a_reason_that_is_not_text_is_a_usage_error(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini(PLUGIN_INI)
    pytester.makepyfile(
        test_marked="""
        import pytest

        @pytest.mark.allow_leaks("threads", reason=5)
        def test_marked():
            pass
        """
    )
    result = pytester.runpytest_inprocess("--leaks", "-p", "no:randomly")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*test_marked.py::test_marked: allow_leaks: reason must be text, got 5*"]
    )
