"""``leakbench report --html``: page content, bad input, flame graphs, worker table.

Also holds :func:`sample_results`, the synthetic results the browser test renders.
"""

from __future__ import annotations

import json
import random
import re
import statistics
from dataclasses import replace
from pathlib import Path

import pytest

from cli_support import one_line_error, run
from leakbench.cli.report import TIME_RESAMPLES, head_times, page_input
from leakbench.gate.results import (
    Environment,
    InstructionsResult,
    MemoryResult,
    Results,
    ScenarioResult,
    TimeResult,
    TopSite,
    write_results,
)
from leakbench.gate.verdicts.bootstrap import SEED, bootstrap_medians
from leakbench.gate.verdicts.budgets import BudgetConfig, from_table
from leakbench.gate.verdicts.leaks import LeakJudgement, judge_all
from leakbench.gate.verdicts.rules import compare
from leakbench.reports.html import flamegraphs
from leakbench.reports.html import page as html_page
from leakbench.reports.html.chart import Line, chart, nice_ticks
from leakbench.reports.html.workers import WorkersError, load_workers
from test_measure_support import write_memray_capture

KEY = "py3.11-linux-x86_64-pyalloc"
LATEST = Path(".leakbench") / "results" / "latest.json"


def environment(commit: str = "a" * 40) -> Environment:
    return Environment(
        python_version="3.11.7",
        implementation="CPython",
        platform="linux",
        machine="x86_64",
        cpu_model="Test CPU",
        cpu_count=2,
        lock_hash="0123456789abcdef",
        memray_mode="pyalloc",
        git_commit=commit,
        git_dirty=False,
        key=KEY,
    )


def memory(per_iteration: float, capture: str | None = None, n: int = 40) -> MemoryResult:
    series = [(k, 20_000 + int(per_iteration * k) + (k % 3) * 50) for k in range(1, n + 1)]
    return MemoryResult(
        iterations=n,
        warmup_iterations=2,
        peak_bytes=series[-1][1] + 50_000,
        total_allocated_bytes=series[-1][1] * 3,
        allocations=1000,
        retained_bytes=series[-1][1],
        retained_per_iteration=per_iteration,
        series=series,
        top_sites=[TopSite("suites/demo.py:12 leak", int(per_iteration * n), n)],
        capture=capture,
    )


def timing(seconds: float) -> TimeResult:
    rounds = [seconds * (1 + 0.01 * (i % 5)) for i in range(20)]
    reference = [1e-5] * 20
    return TimeResult(
        rounds=rounds,
        reference_rounds=reference,
        ratios=[r / 1e-5 for r in rounds],
        median=seconds,
        mean=seconds,
        min=seconds,
        stddev=0.0,
        reference_median=1e-5,
        ratio_median=seconds / 1e-5,
        process_rounds=[10, 10],
    )


def sample_results(
    commit: str = "a" * 40, leak: float = 20_000, capture_dir: Path | None = None
) -> Results:
    """Two leak classes, leaky and clean variants: what the demo suites produce."""

    def cap(name: str) -> str | None:
        return str(capture_dir / f"{name}.bin") if capture_dir else None

    return Results(
        created="2026-11-21T20:00:00+00:00",
        environment=environment(commit),
        scenarios={
            "threads.leaky": ScenarioResult(
                "threads", "leaky", True, memory(leak, cap("threads.leaky")), timing(1e-4)
            ),
            "threads.clean": ScenarioResult(
                "threads", "clean", False, memory(0.0, cap("threads.clean")), timing(9e-5)
            ),
            "mocks.leaky.await": ScenarioResult(
                "mocks", "leaky", True, memory(5_000, cap("mocks.leaky.await")), timing(2e-3)
            ),
            "mocks.clean.await": ScenarioResult(
                "mocks", "clean", False, memory(10.0, cap("mocks.clean.await")), None
            ),
        },
    )


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project as the cwd: no baseline stored, no budgets."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\n", encoding="utf-8")
    return tmp_path


def charts(page: str) -> dict[str, int]:
    """scenario -> number of data points of its chart."""
    found = re.findall(r'<svg class="chart" data-scenario="([^"]+)" data-points="(\d+)"', page)
    return {name: int(points) for name, points in found}


# --------------------------------------------------------------------------- rendering


def test_page_shows_leaks_charts_and_commit(tmp_path: Path) -> None:
    head = sample_results()
    page = html_page.render(page_input(head, "latest.json", BudgetConfig()), tmp_path)
    assert charts(page) == {name: 40 for name in head.scenarios}
    assert "2 of 4 scenarios leak memory (all of them leaky demo variants)" in page
    assert "aaaaaaaaaa" in page and KEY in page
    table = leak_table(page)
    assert table.index("threads.leaky") < table.index("mocks.leaky.await")
    assert "mocks.clean" not in table
    assert "19.5 KiB" in table  # 20 000 B per iteration
    assert "suites/demo.py:12 leak" in page
    assert "<script src" not in page and "<link" not in page  # self-contained
    assert "95% CI" in page


def test_baseline_overlay_and_regression(tmp_path: Path) -> None:
    base = sample_results(commit="b" * 40, leak=0.0)
    head = sample_results()
    comparison = compare(base, head, BudgetConfig())
    inp = page_input(
        head, "h.json", BudgetConfig(), base=base, base_label="b.json", comparison=comparison
    )
    page = html_page.render(inp, tmp_path)
    assert page.count('class="line base"') == 4
    assert "new since bbbbbbbbbb → aaaaaaaaaa" in page
    assert "Regressions against the baseline" in page
    assert "1 regression vs baseline bbbbbbbbbb" in page
    assert 'class="banner bad"' in page


def test_cards_show_instructions_and_wall_time_in_words(tmp_path: Path) -> None:
    def counted(per_iteration: float | None, reason: str = "") -> InstructionsResult:
        return InstructionsResult(
            per_iteration, 20, 2, None if per_iteration is None else int(per_iteration * 20),
            "callgrind", "valgrind-3.19.0", 3.0, reason,
        )  # fmt: skip

    def with_counts(results: Results, figure: float) -> Results:
        scenarios = dict(results.scenarios)
        scenarios["threads.leaky"] = replace(
            scenarios["threads.leaky"], instructions=counted(figure)
        )
        scenarios["threads.clean"] = replace(
            scenarios["threads.clean"], instructions=counted(None, "valgrind is not installed")
        )
        return replace(results, scenarios=scenarios)

    base = with_counts(sample_results(commit="b" * 40), 1_000_000)
    head = with_counts(sample_results(), 1_250_000)
    comparison = compare(base, head, BudgetConfig())
    inp = page_input(
        head, "h.json", BudgetConfig(), base=base, base_label="b.json", comparison=comparison
    )
    page = html_page.render(inp, tmp_path)
    assert "instructions / iteration" in page and "wall time / iteration" in page
    assert "1.25 M" in page and "+25.0% more vs base (1 M)" in page
    assert "valgrind is not installed" in page
    assert "instructions/iter: CPU instructions per iteration counted under Valgrind" in page


def test_clean_variant_leaking_turns_the_banner_red(tmp_path: Path) -> None:
    head = sample_results()
    clean = head.scenarios["threads.clean"]
    head.scenarios["threads.clean"] = ScenarioResult(
        "threads", "clean", False, memory(9_000), clean.time
    )
    page = html_page.render(page_input(head, "h.json", BudgetConfig()), tmp_path)
    assert 'class="banner bad"' in page
    assert "1 not a leaky variant: threads.clean" in page


def leak_table(page: str) -> str:
    return page.split("<h2>Leaking scenarios</h2>")[1].split("</table>")[0]


# --------------------------------------------------------------------------- verdicts


def test_a_scenario_leaks_from_its_own_memory_floor_up() -> None:
    head = sample_results()  # growth over 40 iterations: 800 000, 0, 200 000 and 400 B
    head.scenarios["untimed"] = ScenarioResult("threads", "clean", False, None, timing(1e-4))
    config = from_table(
        {"memory_floor": 800_000, "scenarios": {"mocks.leaky.await": {"memory_floor": "1KiB"}}}
    )
    leaks = judge_all(head, config)
    assert leaks["threads.leaky"] == LeakJudgement(True, 800_000.0, 800_000)  # at the floor
    assert leaks["mocks.leaky.await"] == LeakJudgement(True, 200_000.0, 1024)  # its own floor
    assert leaks["mocks.clean.await"] == LeakJudgement(False, 400.0, 800_000)
    assert leaks["threads.clean"].leaking is False
    assert leaks["untimed"] == LeakJudgement(False, None, 800_000)  # no memory pass


def test_the_page_shows_the_leak_judgement_it_is_given(tmp_path: Path) -> None:
    head = sample_results()
    inp = page_input(head, "h.json", BudgetConfig())
    judged = dict(inp.leaks)
    judged["threads.leaky"] = LeakJudgement(False, 10.0, 64 * 1024)
    judged["threads.clean"] = LeakJudgement(True, 123_456.0, 1024)
    page = html_page.render(replace(inp, leaks=judged), tmp_path)
    table = leak_table(page)
    assert "threads.clean" in table and "120.6 KiB / 40" in table
    assert "threads.leaky" not in table
    assert "memory floor 1 KiB over the run" in page
    assert html_page.flame_targets(replace(inp, leaks=judged)).keys() == {
        "threads.clean",
        "mocks.leaky.await",
    }


def test_heads_time_interval_is_computed_before_rendering(tmp_path: Path) -> None:
    head = sample_results()
    times = head_times(head)
    assert times.keys() == {"threads.leaky", "threads.clean", "mocks.leaky.await"}  # timed
    timed = head.scenarios["threads.leaky"].time
    assert timed is not None
    rounds = timed.rounds
    medians = sorted(bootstrap_medians(rounds, TIME_RESAMPLES, random.Random(SEED)))
    assert times["threads.leaky"] == (statistics.median(rounds), medians[9], medians[-10])
    inp = replace(page_input(head, "h.json", BudgetConfig()), times={"threads.leaky": (1, 0.5, 2)})
    page = html_page.render(inp, tmp_path)
    assert page.count("95% CI") == 1 and "95% CI [500 ms, 2 s]" in page


def test_chart_ticks_and_single_point() -> None:
    assert nice_ticks(0, 9.3, 5) == [0, 2, 4, 6, 8, 10]
    assert nice_ticks(0, 9.3) == [0, 5, 10]
    svg = chart("x", [Line("HEAD", [(1, 5000)], "clean")])
    assert 'data-points="1"' in svg and "KiB" in svg
    assert 'data-points="0"' in chart("empty", [Line("HEAD", [], "clean")])


# --------------------------------------------------------------------------- the command


def test_report_command_writes_page_and_prints_path(project: Path) -> None:
    write_results(sample_results(), LATEST)
    result = run("report", "--html", "out/index.html")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "report: out/index.html (0 flame graphs)"
    page = (project / "out" / "index.html").read_text(encoding="utf-8")
    assert len(charts(page)) == 4
    assert "no baseline stored for" in page
    assert "no memray capture recorded" in page  # leaking, but captures are null


def test_missing_capture_is_a_note_not_a_crash(project: Path) -> None:
    write_results(sample_results(capture_dir=project / "gone"), "r.json")
    result = run("report", "r.json", "--html", "index.html")
    assert result.exit_code == 0, result.output
    page = (project / "index.html").read_text(encoding="utf-8")
    assert "flame graph of retained memory" not in page
    assert "is missing (re-run `leakbench bench`)" in page


def test_older_results_without_series_render_with_a_note(project: Path) -> None:
    doc = sample_results().to_dict()
    for s in doc["scenarios"].values():
        for key in ("series", "top_sites", "capture"):
            del s["memory"][key]
    Path("old.json").write_text(json.dumps(doc), encoding="utf-8")
    result = run("report", "old.json", "--html", "index.html", "--baseline", "old.json")
    assert result.exit_code == 0, result.output
    page = (project / "index.html").read_text(encoding="utf-8")
    assert charts(page) == {}
    assert "no per-iteration series in this results file" in page
    assert "has no capture, series, top_sites (written by an older leakbench)" in page


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        (None, ("r.json: no such file",)),
        ("{trunc", ("r.json: not valid JSON",)),
        ('{"schema": "other"}', ("not a leakbench-results document",)),
    ],
)
def test_bad_results_exit_2_on_one_line(
    project: Path, content: str | None, fragments: tuple[str, ...]
) -> None:
    if content is not None:
        Path("r.json").write_text(content, encoding="utf-8")
    one_line_error(run("report", "r.json", "--html", "x.html"), *fragments)
    assert not Path("x.html").exists()


def test_bad_baseline_and_workers_exit_2(project: Path) -> None:
    write_results(sample_results(), "r.json")
    one_line_error(
        run("report", "r.json", "--baseline", "nope.json", "--html", "x.html"),
        "nope.json: no such baseline file",
    )
    one_line_error(
        run("report", "r.json", "--workers", "w.json", "--html", "x.html"), "w.json: no such file"
    )
    Path("w.json").write_text("[1, 2", encoding="utf-8")
    one_line_error(
        run("report", "r.json", "--workers", "w.json", "--html", "x.html"), "w.json: not valid JSON"
    )
    Path("w.json").write_text('{"levels": [{"n": 1}]}', encoding="utf-8")
    one_line_error(
        run("report", "r.json", "--workers", "w.json", "--html", "x.html"),
        "no level with a `workers` count",
    )


def test_missing_html_option_is_a_usage_error(project: Path) -> None:
    result = run("report")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()  # one line, not click's usage block
    assert len(lines) == 1 and lines[0].startswith("leakbench: error: Missing option '--html'")


def test_an_unwritable_report_path_is_a_one_line_error_naming_it(project: Path) -> None:
    write_results(sample_results(), "r.json")
    result = run("report", "r.json", "--html", "r.json/index.html")  # a file as the folder
    one_line_error(result, "r.json/index.html: cannot write the report")
    assert json.loads(Path("r.json").read_text(encoding="utf-8"))["scenarios"]


# --------------------------------------------------------------------------- workers


def test_workers_table_reads_document_or_list(project: Path) -> None:
    doc = {
        "levels": [
            {"workers": 0, "result": "pass", "time_median": 4.0, "peak_rss": 2**27, "swap": 0},
            {"workers": 2, "result": "over budget", "peak_rss": "junk"},
            {"result": "no workers key"},
            "junk",
        ],
        "recommendation": {"workers": 0, "reason": "the fastest level"},
    }
    Path("w.json").write_text(json.dumps(doc), encoding="utf-8")
    table = load_workers(Path("w.json"))
    assert [lv.workers for lv in table.levels] == [0, 2]
    assert table.recommended == 0 and table.skipped == 2
    assert table.levels[1].peak_rss is None
    Path("l.json").write_text(json.dumps([{"workers": 4, "time": 1.5}]), encoding="utf-8")
    assert load_workers(Path("l.json")).levels[0].time == 1.5
    Path("bad.json").write_text('"text"', encoding="utf-8")
    with pytest.raises(WorkersError, match="no list of levels"):
        load_workers(Path("bad.json"))
    write_results(sample_results(), "r.json")
    result = run("report", "r.json", "--workers", "w.json", "--html", "i.html")
    assert result.exit_code == 0, result.output
    page = Path("i.html").read_text(encoding="utf-8")
    assert "Worker sizing" in page and "✔ recommended" in page and "128 MiB" in page


# --------------------------------------------------------------------------- flame graphs


def test_flame_graph_from_a_real_capture(tmp_path: Path) -> None:
    capture = tmp_path / "threads.leaky.bin"
    write_memray_capture(capture)
    flames = flamegraphs.generate(
        {"threads.leaky": str(capture), "x.none": None}, tmp_path / "fg", created=None
    )
    made = flames["threads.leaky"]
    assert made.path == tmp_path / "fg" / "threads.leaky.html", made.note
    assert made.path.stat().st_size > 1000
    assert flames["x.none"].path is None
    head = sample_results()
    inp = replace(page_input(head, "h.json", BudgetConfig()), flames=flames)
    page = html_page.render(inp, tmp_path)
    assert 'href="fg/threads.leaky.html"' in page


def test_stale_or_broken_capture_gives_a_note(tmp_path: Path) -> None:
    broken = tmp_path / "b.bin"
    broken.write_bytes(b"not a capture")
    flames = flamegraphs.generate(
        {"b": str(broken)}, tmp_path / "fg", created="2999-01-01T00:00:00+00:00"
    )
    assert flames["b"].path is None and "predates these results" in flames["b"].note
    flames = flamegraphs.generate({"b": str(broken)}, tmp_path / "fg")
    assert flames["b"].path is None and "memray flamegraph failed" in flames["b"].note
