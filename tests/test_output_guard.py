"""No option overwrites a file leakbench did not write (issue 13).

Every option that writes at a path the user gives (``bench --out``, ``report --html`` and the
flame graphs it has memray write beside the page, ``workers --json``, ``merge -o``, the
plugin's ``--leaks-json`` and ``--leaks-bench-json``) is run for real against a test file
and another tool's JSON at that path: one line naming the option and the file, the usage
exit (2; pytest's 4 for the plugin), the file byte-identical, and nothing measured or run.
A file leakbench itself wrote there is replaced. The one rule is
``leakbench._util.output_guard``; its edge cases are here too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import PLUGIN_INI
from leakbench._util.output_guard import (
    FLAME_GRAPH,
    GENERATOR_META,
    REPORT_PAGE,
    Owned,
    json_document,
    refusal,
)
from leakbench.cli.main import cli
from leakbench.gate.results import load_results, write_results
from leakbench.plugin.record import read_tests
from leakbench.reports.html import template
from test_measure_support import write_memray_capture
from test_report_html import sample_results

FOREIGN = {
    "python-source": "import pytest\n\n\ndef test_x():\n    assert pytest\n",
    "other-json": '{"schema": "other"}\n',
}
"""What a mistyped path may hold: a test file, another tool's document."""


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    lines: list[str]
    """The error output's non-empty lines."""
    ran: bool = False
    """Whether anything was measured or run (what the work leaves behind)."""


@dataclass(frozen=True)
class Option:
    """One writing option: how to run its command with the file at ``target`` (relative to
    the project), and the exit code of a usage error."""

    name: str
    target: str
    run: Callable[[Path], Outcome]
    usage_exit: int = 2


def cli_run(*args: str, ran: bool = False) -> Outcome:
    result = CliRunner().invoke(cli, list(args))
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    return Outcome(result.exit_code, lines, ran)


# ------------------------------------------------------------------ the projects and commands

SUITE = textwrap.dedent(
    """\
    from contextlib import contextmanager
    from pathlib import Path

    from leakbench.gate.scenarios import Scenario


    @contextmanager
    def _session():
        Path({marker!r}).write_text("measured")
        yield lambda: None


    SCENARIOS = [Scenario("tiny.clean", "tiny", "clean", (), _session, bench_iterations=2)]
    """
)

TESTS = "def test_one():\n    pass\n"


def bench_project(project: Path) -> str:
    """A one-scenario suite (a fresh name: in-process imports are cached by name) whose
    session leaves ``measured`` behind."""
    name = f"lb_guard_suite_{uuid.uuid4().hex[:8]}"
    (project / name).mkdir()
    (project / name / "__init__.py").write_text("")
    (project / name / "tiny.py").write_text(SUITE.format(marker=str(project / "measured")))
    return name


def run_bench(target: str) -> Callable[[Path], Outcome]:
    def run(project: Path) -> Outcome:
        suites = bench_project(project)
        outcome = cli_run(
            "bench", "--suites", suites, "--no-compare", "--memory-only", "--no-instructions",
            "--out", target,
        )  # fmt: skip
        measured = (project / "measured").exists() or (project / ".leakbench").exists()
        return Outcome(outcome.exit_code, outcome.lines, measured)

    return run


def run_report(target: str, *extra: str) -> Callable[[Path], Outcome]:
    def run(project: Path) -> Outcome:
        write_results(sample_results(), project / "r.json")
        return cli_run("report", "r.json", "--html", target, *extra)

    return run


def run_workers(project: Path) -> Outcome:
    """In-process for a refusal (nothing is started); a real run would start pytest."""
    (project / "test_one.py").write_text(TESTS)
    return cli_run("workers", "--levels", "1", "--repeat", "1", "--json", "w.json", "--", "-q")


def run_merge(project: Path) -> Outcome:
    write_results(sample_results(), project / "s1.json")
    return cli_run("merge", "s1.json", "-o", "all.json")


def run_plugin(*args: str) -> Callable[[Path], Outcome]:
    def run(project: Path) -> Outcome:
        (project / "pytest.ini").write_text(PLUGIN_INI)
        (project / "tests").mkdir(exist_ok=True)
        (project / "tests" / "test_one.py").write_text(TESTS)
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:randomly", "-p", "no:cacheprovider",
             *args, "tests"],
            cwd=project, env=clean_env(), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        return Outcome(done.returncode, _lines(done), "passed" in done.stdout)

    return run


def clean_env() -> dict[str, str]:
    """This run's environment without its pytest, xdist or leakbench settings."""
    drop = ("PYTEST_", "LEAKBENCH_")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


def _lines(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in done.stderr.splitlines() if line.strip()]


OPTIONS = [
    Option("--out", "out.json", run_bench("out.json")),
    Option("--html", "index.html", run_report("index.html", "--no-flamegraphs")),
    Option("--html", "out/flamegraphs/threads.leaky.html", run_report("out/index.html")),
    Option("--json", "w.json", run_workers),
    Option("--out", "all.json", run_merge),
    Option("--leaks-json", "t.json", run_plugin("--leaks", "--leaks-json", "t.json"), 4),
    Option("--leaks-bench-json", "b.json", run_plugin("--leaks-bench-json", "b.json"), 4),
]
IDS = ["bench-out", "report-html", "report-flame-graph", "workers-json", "merge-out",
       "plugin-leaks-json", "plugin-leaks-bench-json"]  # fmt: skip


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    monkeypatch.chdir(root)
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)
    return root


@pytest.mark.parametrize("content", FOREIGN.values(), ids=FOREIGN.keys())
@pytest.mark.parametrize("option", OPTIONS, ids=IDS)
def test_a_foreign_file_is_refused_in_one_line_before_anything_runs(
    project: Path, option: Option, content: str
) -> None:
    target = project / option.target
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(content)
    before = target.read_bytes()
    outcome = option.run(project)
    assert outcome.exit_code == option.usage_exit, outcome
    assert len(outcome.lines) == 1, outcome.lines
    line = outcome.lines[0]
    assert f"{option.name}: {option.target} exists and is not " in line, line
    assert "leakbench will not overwrite it" in line, line
    assert target.read_bytes() == before
    assert not outcome.ran


# ------------------------------------------------------------------ leakbench's own file


def test_bench_out_replaces_results_it_wrote(project: Path) -> None:
    out = project / "out.json"
    out.write_text('{"schema": "leakbench-results", "schema_version": 2}')
    outcome = run_bench("out.json")(project)
    assert outcome.exit_code == 0, outcome
    assert set(load_results(out).scenarios) == {"tiny.clean"}


def test_report_html_replaces_a_page_it_wrote_even_one_without_the_marker(project: Path) -> None:
    assert run_report("index.html", "--no-flamegraphs")(project).exit_code == 0
    page = project / "index.html"
    assert GENERATOR_META in page.read_text()
    page.write_text(page.read_text().replace(GENERATOR_META, ""))  # an older leakbench's page
    assert run_report("index.html", "--no-flamegraphs")(project).exit_code == 0
    assert GENERATOR_META in page.read_text()


def test_report_replaces_a_memray_flame_graph_beside_it(project: Path) -> None:
    capture = project / "threads.leaky.bin"
    write_memray_capture(capture)
    write_results(sample_results(capture_dir=project), project / "r.json")
    graph = project / "out" / "flamegraphs" / "threads.leaky.html"
    graph.parent.mkdir(parents=True)
    graph.write_text("<html><head><title>memray - flamegraph report</title></head></html>")
    outcome = cli_run("report", "r.json", "--html", "out/index.html")
    assert outcome.exit_code == 0, outcome
    assert graph.stat().st_size > 1000  # memray's new graph


def test_workers_json_replaces_a_document_it_wrote(project: Path) -> None:
    (project / "test_one.py").write_text(TESTS)
    (project / "pytest.ini").write_text("[pytest]\n")
    target = project / "w.json"
    target.write_text('{"schema": "leakbench.workers/1"}')
    done = subprocess.run(
        [sys.executable, "-m", "leakbench", "workers", "--levels", "1", "--repeat", "1",
         "--json", "w.json", "--", "-q", "-p", "no:randomly"],
        cwd=project, env=clean_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(target.read_text())["levels"]


def test_merge_out_replaces_results_it_wrote(project: Path) -> None:
    (project / "all.json").write_text('{"schema": "leakbench-results"}')
    assert run_merge(project).exit_code == 0
    assert set(load_results(project / "all.json").scenarios) == set(sample_results().scenarios)


def test_plugin_leaks_json_replaces_a_tests_document_it_wrote(project: Path) -> None:
    target = project / "t.json"
    target.write_text('{"schema": "leakbench-tests"}')
    outcome = run_plugin("--leaks", "--leaks-json", "t.json")(project)
    assert outcome.exit_code == 0 and outcome.ran, outcome
    assert list(read_tests(target)) == ["tests/test_one.py::test_one"]


# ------------------------------------------------------------------ the rule itself

RESULTS = json_document("leakbench-results")


@pytest.mark.parametrize(
    ("content", "owned", "allowed"),
    [
        pytest.param(None, RESULTS, True, id="missing"),
        pytest.param("", RESULTS, True, id="empty"),
        pytest.param('{"schema": "leakbench-results"}', RESULTS, True, id="own-json"),
        pytest.param('{"schema": ["leakbench-results"]}', RESULTS, False, id="schema-a-list"),
        pytest.param('[{"schema": "leakbench-results"}]', RESULTS, False, id="json-list"),
        pytest.param('{"schema": "leakbench-results"', RESULTS, False, id="truncated-json"),
        pytest.param(GENERATOR_META, RESULTS, False, id="a-page-is-no-document"),
        pytest.param(template.page("t", "<p>x</p>"), REPORT_PAGE, True, id="own-page"),
        pytest.param("<html><body>mine</body></html>", REPORT_PAGE, False, id="foreign-page"),
        pytest.param('{"schema": "leakbench-results"}', REPORT_PAGE, False, id="json-no-page"),
        pytest.param("<title>memray - flamegraph</title>", FLAME_GRAPH, True, id="flame-graph"),
        pytest.param(FOREIGN["python-source"], FLAME_GRAPH, False, id="source-no-graph"),
    ],
)
def test_which_files_leakbench_may_replace(
    tmp_path: Path, content: str | None, owned: Owned, allowed: bool
) -> None:
    path = tmp_path / "f"
    if content is not None:
        path.write_text(content)
    reason = refusal(path, owned, "--opt", "f")
    if allowed:
        assert reason is None
    else:
        assert reason is not None and reason.startswith("--opt: f exists and is not "), reason


def test_a_path_that_cannot_be_a_file_is_one_line_naming_it(tmp_path: Path) -> None:
    (tmp_path / "file.txt").write_text("x")
    os.mkfifo(tmp_path / "fifo")
    cases = {
        ".": "--opt: . is a folder; name a file, such as ./index.html",
        "file.txt/out.json": "--opt: file.txt/out.json: cannot be written (Not a directory)",
        "fifo": "--opt: fifo is not a regular file; name another file",
    }
    for relative, expected in cases.items():
        reason = refusal(tmp_path / relative, REPORT_PAGE, "--opt", relative)
        assert reason is not None and reason.startswith(expected) and "\n" not in reason
