"""The bad-input matrix of stored documents, names and captures (issue 14, rows 1-3, 6, 12-15).

What is inside a results or baseline file, the plugin's tests document and compare-branches'
cache; scenario names that become file names or text; memray captures. Every bad document is
refused by ``compare``, ``report`` and ``baseline save`` alike with exit 2 and one line naming
the file and the field, and leaves the stored baseline byte-identical; names never become
paths outside their folder and every renderer shows any name without breaking out of its
markup; an incomplete capture never yields numbers. The commands run in-process
(``CliRunner``) except where a real process limit is the point (the full disk of row 6).
"""

from __future__ import annotations

import json
import math
import os
import re
import resource
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from markdown_it import MarkdownIt
from rich.console import Console

from cli_support import one_line_error, run
from leakbench._util.safe_names import safe_file_name
from leakbench.gate.cache import BaseCache
from leakbench.gate.environment import fingerprint
from leakbench.gate.measure import runner
from leakbench.gate.measure.child import run_memory_pass
from leakbench.gate.measure.memory import CaptureError, read_capture
from leakbench.gate.results import (
    MemoryResult,
    ResultsCorruptError,
    ResultsInvalidError,
    load_results,
    parse_results,
)
from leakbench.gate.scenarios import Scenario, discover
from leakbench.gate.verdicts.budgets import BudgetConfig
from leakbench.gate.verdicts.leaks import judge_all
from leakbench.gate.verdicts.rules import compare
from leakbench.plugin.record import SCHEMA as TESTS_SCHEMA
from leakbench.plugin.record import TestsFileError, read_tests
from leakbench.reports import markdown, terminal
from leakbench.reports.html import flamegraphs
from leakbench.reports.html import page as html_page
from leakbench.reports.html.page import ReportInput
from test_compare_support import KEY, counted, memory, results, scenario, timing
from test_measure_support import write_demo_suite, write_memray_capture

BASELINE = Path("baselines") / f"{KEY}.json"
LATEST = Path(".leakbench") / "results" / "latest.json"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project as the cwd, no budgets; a good baseline stored."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\n", encoding="utf-8")
    BASELINE.parent.mkdir(parents=True)
    BASELINE.write_text(json.dumps(good_doc()), encoding="utf-8")
    return tmp_path


def good_doc() -> dict[str, Any]:
    """A valid results document with memory, time and instruction figures."""
    doc = results({"s": scenario(memory(100.0), timing(1.0), instructions=counted())})
    return doc.to_dict()


def edited(path: str, value: Any) -> str:
    """The good document's JSON text with the field at dotted ``path`` set to ``value``
    (``"NaN"``-like constants are written as JSON tokens, not strings)."""
    doc = good_doc()
    target: Any = doc
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if isinstance(target, list) else target[key]
    last = keys[-1]
    token = "__TOKEN__"
    if isinstance(target, list):
        target[int(last)] = token
    else:
        target[last] = token
    return json.dumps(doc).replace(f'"{token}"', value)


# --------------------------------------------------------------------------- rows 1 and 2

NUMBER_CASES = [
    # Row 1: NaN and the infinities in any number, of every pass
    ("scenarios.s.memory.retained_per_iteration", "NaN", "expected a finite number"),
    ("scenarios.s.memory.retained_per_iteration", "Infinity", "expected a finite number"),
    ("scenarios.s.memory.retained_per_iteration", "-Infinity", "expected a finite number"),
    ("scenarios.s.time.median", "NaN", "expected a finite number"),
    ("scenarios.s.time.rounds.3", "Infinity", "expected a finite number"),
    ("scenarios.s.time.ratios.0", "NaN", "expected a finite number"),
    ("scenarios.s.instructions.per_iteration", "NaN", "expected a finite number"),
    ("scenarios.s.instructions.seconds", "-Infinity", "expected a finite number"),
    # ... and numbers in range: byte counts and counts >= 0, iterations >= 1
    ("scenarios.s.memory.peak_bytes", "-5", "expected an integer >= 0"),
    ("scenarios.s.memory.retained_bytes", "-1", "expected an integer >= 0"),
    ("scenarios.s.memory.allocations", "-100", "expected an integer >= 0"),
    ("scenarios.s.memory.iterations", "0", "expected an integer >= 1"),
    ("scenarios.s.memory.series.0.1", "-7", "expected [iterations, bytes] integers >= 0"),
    ("scenarios.s.time.iterations_per_round", "0", "expected an integer >= 1"),
    ("scenarios.s.time.stddev", "-0.5", "expected a number >= 0"),
    ("scenarios.s.instructions.total", "-3", "expected an integer >= 0"),
    ("environment.cpu_count", "0", "expected an integer >= 1"),
    # Row 2: an integer too large for a float, and one of more than 4,300 digits
    ("scenarios.s.memory.retained_per_iteration", "1" + "0" * 400, "an integer of 401 digits"),
    ("scenarios.s.memory.peak_bytes", "1" + "0" * 400, "below 2**63"),
    ("scenarios.s.time.median", "1" + "0" * 5000, "Exceeds the limit (4300 digits)"),
    ("scenarios.s.time.median", "1e400", "expected a finite number"),  # parses as inf
]


@pytest.mark.parametrize(("field", "value", "problem"), NUMBER_CASES)
@pytest.mark.parametrize("command", ["compare", "report", "baseline-save"])
def test_a_bad_number_is_refused_on_one_line_and_the_baseline_is_untouched(
    project: Path, command: str, field: str, value: str, problem: str
) -> None:
    Path("bad.json").write_text(edited(field, value), encoding="utf-8")
    before = BASELINE.read_bytes()
    argv = {
        "compare": ["compare", str(BASELINE), "bad.json"],
        "report": ["report", "bad.json", "--html", "out/index.html", "--no-flamegraphs"],
        "baseline-save": ["baseline", "save", "bad.json"],
    }[command]
    line = one_line_error(run(*argv), "bad.json", problem)
    if "digits)" not in problem:  # the JSON reader's own error names no field
        assert field.rsplit(".", 1)[0].split(".")[-1] in line
    assert BASELINE.read_bytes() == before
    assert not Path("out").exists()


def test_a_document_nested_100000_deep_is_refused_on_one_line(project: Path) -> None:
    Path("deep.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    before = BASELINE.read_bytes()
    for argv in (["compare", str(BASELINE), "deep.json"], ["baseline", "save", "deep.json"]):
        one_line_error(run(*argv), "deep.json", "nested too deeply")
    assert BASELINE.read_bytes() == before
    with pytest.raises(ResultsCorruptError, match="nested too deeply"):
        load_results(project / "deep.json")


def test_a_nan_stored_before_this_check_is_refused_when_the_baseline_is_read(
    project: Path,
) -> None:
    """A baseline saved by an older leakbench with NaN in it: compare names it, exit 2."""
    BASELINE.write_text(edited("scenarios.s.memory.retained_per_iteration", "NaN"), "utf-8")
    LATEST.parent.mkdir(parents=True)
    LATEST.write_text(json.dumps(good_doc()), encoding="utf-8")
    one_line_error(run("compare"), str(BASELINE), "retained_per_iteration", "finite number")


def test_the_tests_document_reader_refuses_or_drops_bad_numbers(tmp_path: Path) -> None:
    path = tmp_path / "tests.json"
    rec = {
        "worker": "main",
        "outcome": "passed",
        "duration": float("nan"),
        "peak_rss": float("inf"),
        "rss_before": -5,
        "rss_after": 10**400,
        "rss_growth": float("-inf"),
    }
    doc = {"schema": TESTS_SCHEMA, "schema_version": 1, "tests": {"t::a": rec}, "workers": {}}
    path.write_text(json.dumps(doc), encoding="utf-8")  # json writes NaN and Infinity
    test = read_tests(path)["t::a"]
    assert (test.duration, test.peak_rss, test.rss_before, test.rss_after) == (None,) * 4
    assert test.rss_growth is None
    path.write_text("{" * 0 + "[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(TestsFileError, match="nested too deeply"):
        read_tests(path)
    path.write_text('{"schema": 1' + "0" * 5000 + "}", encoding="utf-8")
    with pytest.raises(TestsFileError, match="4300"):
        read_tests(path)


def test_the_base_cache_reads_bad_entries_as_missing(tmp_path: Path) -> None:
    """The cache only saves time: a deep, huge or NaN-holding file is an empty cache."""
    folder = tmp_path / ".leakbench" / "cache"
    folder.mkdir(parents=True)
    path = folder / "base-k.json"
    probe = {"rounds": [1.0, 10**400], "cpu_rounds": [0.5], "iterations": 3, "rounds_planned": 2}
    mem = good_doc()["scenarios"]["s"]["memory"] | {"retained_per_iteration": float("nan")}
    doc = {
        "schema": "leakbench-base-cache",
        "schema_version": 1,
        "key": "k",
        "scenarios": {"s": {"memory": mem, "instructions": None, "probe": probe}},
    }
    path.write_text(json.dumps(doc), encoding="utf-8")
    entry = BaseCache.load(tmp_path, "k", {}, "c").get("s")
    assert entry.memory is None and entry.probe is None
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    assert BaseCache.load(tmp_path, "k", {}, "c").scenarios == {}


# --------------------------------------------------------------------------- row 3

BAD_NAMES = [
    pytest.param('"\\ud800"', "\\ud800", id="lone-surrogate"),
    pytest.param('"a\\nb"', "\\n", id="line-break"),
    pytest.param('"x\\u0007"', "\\x07", id="bell"),
    pytest.param('"\\u202e"', "\\u202e", id="bidi-override"),
]


@pytest.mark.parametrize(("name", "shown"), BAD_NAMES)
@pytest.mark.parametrize("command", ["compare", "report", "baseline-save"])
def test_a_name_that_is_not_printable_text_is_refused(
    project: Path, command: str, name: str, shown: str
) -> None:
    text = json.dumps(good_doc()).replace('"scenarios": {"s":', f'"scenarios": {{{name}:')
    Path("bad.json").write_bytes(text.encode("ascii"))
    before = BASELINE.read_bytes()
    argv = {
        "compare": ["compare", str(BASELINE), "bad.json"],
        "report": ["report", "bad.json", "--html", "out/index.html", "--no-flamegraphs"],
        "baseline-save": ["baseline", "save", "bad.json"],
    }[command]
    line = one_line_error(run(*argv), "bad.json", "names must be printable text", shown)
    line.encode("utf-8")  # the message itself is writable
    assert BASELINE.read_bytes() == before


def test_a_tests_document_with_a_surrogate_node_id_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    text = '{"schema": "leakbench-tests", "schema_version": 1, "tests": {"\\ud800": {}}}'
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TestsFileError, match="names must be printable text") as caught:
        read_tests(path)
    str(caught.value).encode("utf-8")


# Names no loader refuses (printable) and names only a hand-built record can hold: the
# renderers must show every one of them without crashing or breaking out of their markup.
HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "a`b``c",
    "`edge`",
    "a|b",
    "back\\slash",
    "a\nb",
    "\ud800 surrogate",
    "../../../../tmp/x",
]


def hostile_comparison() -> Any:
    base = results({n: scenario(memory(0.0)) for n in HOSTILE})
    head = results({n: scenario(memory(50_000.0)) for n in HOSTILE})
    return base, head, compare(base, head, BudgetConfig(), base_label="b.json", head_label="h")


def test_markdown_escapes_every_name_it_prints() -> None:
    _, _, comparison = hostile_comparison()
    text = markdown.render(comparison, verbose=True)
    text.encode("utf-8")
    parser = MarkdownIt("commonmark").enable("table")
    assert "<img" not in parser.render(text)  # shown as text, in code spans: never an element
    tokens = parser.parse(text)
    inline = [child for t in tokens if t.children for child in t.children]
    ours = re.compile(r"^(</?(sub|details|summary)>)+")  # the report's own markup
    html = [t.content for t in [*tokens, *inline] if t.type in ("html_inline", "html_block")]
    assert [h for h in html if not ours.match(h) or "<img" in h] == []
    spans = {t.content for t in inline if t.type == "code_inline"}
    for name in HOSTILE:
        shown = name.replace("\n", " ").replace("\ud800", "\\ud800")
        assert shown.strip("`") in {s.strip().strip("`") for s in spans} or any(
            shown in s for s in spans
        ), name
    cells_per_row: list[int] = []  # no name adds or removes a table cell
    for t in tokens:
        if t.type == "tr_open":
            cells_per_row.append(0)
        elif t.type in ("td_open", "th_open"):
            cells_per_row[-1] += 1
    assert len(cells_per_row) > len(HOSTILE) and set(cells_per_row) <= {3, 7}


def test_the_terminal_and_html_reports_show_any_name(tmp_path: Path) -> None:
    _, head, comparison = hostile_comparison()
    out = Console(file=open(os.devnull, "w", encoding="utf-8"), width=200)  # noqa: SIM115
    try:
        terminal.render(comparison, out, verbose=True)
    finally:
        out.file.close()
    inp = ReportInput(
        head=head,
        head_label="h.json",
        leaks=judge_all(head, BudgetConfig()),
        comparison=comparison,
    )
    page = html_page.render(inp, tmp_path)
    page.encode("utf-8")
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


# --------------------------------------------------------------------------- rows 13 and 14

ESCAPING_NAMES = ["../../../../tmp/x", "/tmp/x", "tests/test_a.py::test_b[1/2]", "..", "a\\b"]


@pytest.mark.parametrize("name", ESCAPING_NAMES)
def test_a_name_becomes_one_file_name_inside_its_folder(tmp_path: Path, name: str) -> None:
    folder = tmp_path / "captures"
    made = folder / safe_file_name(name, ".bin")
    assert made.parent == folder and made.name not in (".bin", "..bin")
    assert "/" not in made.name and "\\" not in made.name and not made.name.startswith(".")
    # A test node id or a results key, not a suite scenario (those are checked when made).
    fake = cast(Scenario, SimpleNamespace(name=name))
    assert runner.capture_path(tmp_path, fake).parent == tmp_path / runner.CAPTURES_DIR


def test_names_that_share_a_slug_get_different_files() -> None:
    names = ["a/b", "a_b", "a b", "a:b"]
    assert len({safe_file_name(n, ".bin") for n in names}) == len(names)
    assert safe_file_name("threads.leaky", ".bin") == "threads.leaky.bin"  # plain names stay


def test_flame_graphs_of_path_like_names_stay_in_their_folder(tmp_path: Path) -> None:
    capture = tmp_path / "real.bin"
    write_memray_capture(capture, blocks=20)
    out = tmp_path / "a" / "b" / "c" / "d" / "flamegraphs"
    names = ["../../../../tmp/x", "/tmp/x", "tests/test_a.py::test_b[1/2]"]
    flames = flamegraphs.generate({n: str(capture) for n in names}, out, created=None)
    for name in names:
        made = flames[name].path
        assert made is not None, flames[name].note  # row 14: the node id gets its graph
        assert made.parent == out and made.stat().st_size > 1000
    written = {p for p in tmp_path.rglob("*.html")}
    assert written == {flames[n].path for n in names}


# --------------------------------------------------------------------------- row 6


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo")
    write_demo_suite(root)
    return root


def _track_in_child(path: Path, n: int, limit: int | None = None) -> None:
    """A real capture of ``n`` leaking iterations, written by a child (memray tracks one
    process once); ``limit`` bytes: the child's file size limit, a disk that fills up."""
    code = (
        "import resource, signal, sys\n"
        "from pathlib import Path\n"
        "from leakbench.gate.measure.memory import track\n"
        "if sys.argv[3] != 'none':\n"
        "    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "    lim = int(sys.argv[3])\n"
        "    resource.setrlimit(resource.RLIMIT_FSIZE, (lim, lim))\n"
        "keep = []\n"
        "def it():\n"
        "    keep.append(bytearray(7000))\n"
        "    [str(i) for i in range(300)]\n"
        "track(it, int(sys.argv[2]), Path(sys.argv[1]))\n"
    )
    argv = [sys.executable, "-c", code, str(path), str(n), str(limit or "none")]
    subprocess.run(argv, check=True, timeout=120, capture_output=True)


def test_a_truncated_capture_is_refused_before_its_numbers_are_used(tmp_path: Path) -> None:
    whole = tmp_path / "whole.bin"
    _track_in_child(whole, 50)
    complete = read_capture(whole, iterations=50)
    assert len(complete.series) == 50
    data = whole.read_bytes()
    for cut in (0.9, 0.7, 0.3):
        part = tmp_path / f"cut{cut}.bin"
        part.write_bytes(data[: int(len(data) * cut)])
        with pytest.raises(CaptureError, match=f"{part}") as caught:
            read_capture(part, iterations=50)
        assert len(str(caught.value).splitlines()) == 1


def test_a_capture_cut_short_by_a_full_disk_gives_an_error_not_numbers(tmp_path: Path) -> None:
    """memray stops writing and the child exits 0 (what row 6 saw): the marks tell."""
    capture = tmp_path / "full.bin"
    _track_in_child(capture, 50, limit=12_000)
    assert capture.stat().st_size <= 12_000
    with pytest.raises(CaptureError, match=r"is incomplete \(\d+ of 50 iteration marks"):
        read_capture(capture, iterations=50)


def test_bench_on_a_full_disk_exits_2_and_writes_nothing(demo: Path) -> None:
    """The real command, its children limited to small files: one line naming the pass,
    exit 2, no results file and no staged capture left."""

    def small_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (6_000, 6_000))

    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    done = subprocess.run(
        [sys.executable, "-m", "leakbench", "bench", "grow.leaky", "--suites",
         "leakbench_demo_suites", "--memory-only", "--no-instructions", "--no-compare",
         "--iterations", "40"],
        cwd=demo, capture_output=True, text=True, timeout=300, env=env,
        preexec_fn=small_files,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("leakbench: error")]
    assert len(errors) == 1, done.stderr
    assert "memory pass of grow.leaky" in errors[0] and "is incomplete" in errors[0]
    assert not (demo / ".leakbench" / "results").exists()
    assert not list((demo / ".leakbench" / "captures").glob(".run-*"))


# --------------------------------------------------------------------------- row 12


def test_two_runs_of_one_scenario_never_share_a_capture_path(
    demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two runs at once (threads of one process: the same pid and second, the worst case):
    each child writes its own file, both end with the complete capture in place."""
    chosen = [discover("leakbench_demo_suites", demo)["grow.leaky"]]
    options = runner.BenchOptions(
        root=demo, suites="leakbench_demo_suites", iterations=6, time=False, instructions=False
    )
    sent: list[Path] = []

    def recording(*args: Any, **kwargs: Any) -> MemoryResult:
        sent.append(kwargs["capture"])  # the path the real pass is then given
        return run_memory_pass(*args, **kwargs)

    outcomes: list[Any] = []

    def one() -> None:
        try:
            outcomes.append(runner.run(chosen, options))
        except BaseException as exc:
            outcomes.append(exc)

    monkeypatch.setattr(runner, "run_memory_pass", recording)
    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert len(sent) == 2 and sent[0] != sent[1] and sent[0].parent != sent[1].parent
    assert all(p.parent.name.startswith(".run-") and str(os.getpid()) in p.parent.name
               for p in sent)  # fmt: skip
    final = demo / runner.CAPTURES_DIR / "grow.leaky.bin"
    for outcome in outcomes:
        assert not isinstance(outcome, BaseException), outcome
        assert outcome.scenarios["grow.leaky"].memory.capture == str(final)
    assert len(read_capture(final, iterations=6).series) == 6
    assert not list((demo / runner.CAPTURES_DIR).glob(".run-*"))


def test_the_staging_folder_goes_however_the_run_ends(tmp_path: Path) -> None:
    stamp = "2026-12-02T07:00:00+00:00"
    with pytest.raises(KeyboardInterrupt), runner.staged_captures(tmp_path, stamp) as staging:
        (staging / "x.bin").write_bytes(b"partial")
        assert f"-{os.getpid()}-" in staging.name and "20261202T070000" in staging.name
        raise KeyboardInterrupt
    assert not staging.exists()
    assert list((tmp_path / runner.CAPTURES_DIR).iterdir()) == []


# --------------------------------------------------------------------------- UX gaps


@pytest.mark.parametrize("key", ["..", ".", "../x", "a/b", "/etc", ".hidden", ""])
def test_an_environment_key_that_is_not_a_file_name_is_refused(project: Path, key: str) -> None:
    doc = good_doc()
    doc["environment"]["key"] = key
    Path("bad.json").write_text(json.dumps(doc), encoding="utf-8")
    before = BASELINE.read_bytes()
    for argv in (["baseline", "save", "bad.json"], ["compare", str(BASELINE), "bad.json"]):
        one_line_error(run(*argv), "bad.json", "environment.key", "is not a file name")
    assert BASELINE.read_bytes() == before
    assert sorted(p.name for p in Path("baselines").iterdir()) == [BASELINE.name]


def _early_v1() -> dict[str, Any]:
    """A version-1 file from before series, call sites and captures were recorded."""
    doc = good_doc()
    doc["schema_version"] = 1
    for s in doc["scenarios"].values():
        del s["instructions"]
        for key in ("series", "top_sites", "capture"):
            del s["memory"][key]
    return doc


def test_every_command_reads_an_early_version_1_file_alike(project: Path) -> None:
    Path("v1.json").write_text(json.dumps(_early_v1()), encoding="utf-8")
    loaded = load_results(project / "v1.json")
    assert loaded.unrecorded == ("capture", "series", "top_sites")
    assert loaded.scenarios["s"].memory is not None and loaded.scenarios["s"].memory.series == []
    assert run("compare", str(BASELINE), "v1.json").exit_code == 0
    report = run("report", "v1.json", "--html", "out/index.html", "--no-flamegraphs")
    assert report.exit_code == 0, report.output
    page = Path("out/index.html").read_text(encoding="utf-8")
    assert "v1.json has no capture, series, top_sites (written by an older leakbench)" in page
    saved = run("baseline", "save", "v1.json")
    assert saved.exit_code == 0, saved.output
    assert load_results(project / BASELINE).scenarios["s"].instructions is None


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, timeout=60)


def test_untracked_scenario_files_make_the_results_dirty(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / ".gitignore").write_text("__pycache__/\n", encoding="utf-8")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    assert fingerprint(tmp_path, "suites").git_dirty is False
    (tmp_path / "suites" / "__pycache__").mkdir()
    (tmp_path / "suites" / "__pycache__" / "x.pyc").write_bytes(b"ignored")
    assert fingerprint(tmp_path, "suites").git_dirty is False
    (tmp_path / "suites" / "new_scenarios.py").write_text("SCENARIOS = []\n", encoding="utf-8")
    assert fingerprint(tmp_path, "suites").git_dirty is True
    assert fingerprint(tmp_path).git_dirty is False  # no package named: tracked files only


def test_a_loaded_document_is_checked_like_a_file(tmp_path: Path) -> None:
    """``parse_results`` (what compare-branches and the plugin's results go through) refuses
    the same values as the file loader."""
    doc = json.loads(edited("scenarios.s.memory.peak_bytes", "-1"))
    with pytest.raises(ResultsInvalidError, match="peak_bytes: expected an integer >= 0"):
        parse_results(doc, tmp_path / "x.json")
    doc = good_doc()
    doc["scenarios"]["s"]["budget"] = {"memory_budget": "lots"}
    with pytest.raises(ResultsInvalidError, match=r"scenarios\.s\.budget"):
        parse_results(doc, tmp_path / "x.json")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"levels": [{"workers": 1' + "0" * 5000 + "}]}", "4300"),
    ],
)
def test_report_refuses_an_unreadable_workers_file_on_one_line(
    project: Path, content: str, problem: str
) -> None:
    Path("r.json").write_text(json.dumps(good_doc()), encoding="utf-8")
    Path("w.json").write_text(content, encoding="utf-8")
    argv = ["report", "r.json", "--workers", "w.json", "--html", "out/i.html", "--no-flamegraphs"]
    one_line_error(run(*argv), "w.json", problem)
    assert not Path("out").exists()


def test_a_workers_file_with_nan_readings_shows_them_as_missing(project: Path) -> None:
    Path("r.json").write_text(json.dumps(good_doc()), encoding="utf-8")
    level = {"workers": 2, "result": "ok", "time_median": math.nan, "peak_rss": math.inf}
    Path("w.json").write_text(json.dumps({"levels": [level]}), encoding="utf-8")
    argv = ["report", "r.json", "--workers", "w.json", "--html", "out/i.html", "--no-flamegraphs"]
    assert run(*argv).exit_code == 0
    assert "Worker sizing" in Path("out/i.html").read_text(encoding="utf-8")
