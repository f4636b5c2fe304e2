"""Reporters render comparison records faithfully: order, verdicts, notes, sites, escaping."""

from __future__ import annotations

import io
import json

from rich.console import Console

from leakbench.gate.results import TopSite
from leakbench.gate.verdicts.budgets import from_table
from leakbench.gate.verdicts.records import Comparison
from leakbench.gate.verdicts.rules import compare
from leakbench.reports import json_report, markdown, terminal
from test_compare_support import counted, env, memory, results, scenario, timing

SITE = TopSite("suites/httpx_provider.py:42 make|client", 812_000, 1000)


def mixed() -> Comparison:
    """One regression, one acknowledged regression, one clean scenario, one new, one removed."""
    config = from_table({"scenarios": {"ack": {"memory_budget": 1.0, "reason": "known, #7"}}})
    base = results(
        {
            "leaky": scenario(memory(800), timing(1.0, seed=1), instructions=counted(2e6)),
            "ack": scenario(memory(4096), timing(1.0, seed=3)),
            "clean": scenario(memory(0, fixed=300), timing(1.0, seed=5)),
            "gone": scenario(),
        }
    )
    head = results(
        {
            "leaky": scenario(
                memory(1100, sites=(SITE,)), timing(1.35, seed=2), instructions=counted(2.6e6)
            ),
            "ack": scenario(memory(4096 * 1.5), timing(1.0, seed=4)),
            "clean": scenario(memory(0, fixed=600), timing(1.0, seed=6)),
            "fresh": scenario(),
        }
    )
    return compare(base, head, config, base_label="base.json", head_label="head.json")


def render_terminal(c: Comparison, verbose: bool = False) -> str:
    out = io.StringIO()
    terminal.render(c, Console(file=out, width=200, color_system=None), verbose)
    return out.getvalue()


def test_the_terminal_table_lists_the_most_regressed_scenario_first() -> None:
    text = render_terminal(mixed())
    assert text.index("leaky") < text.index("ack") < text.index("clean")
    assert "BASE base.json" in text and "HEAD head.json" in text
    assert "regression" in text and "accepted: known, #7" in text
    assert "below the 64 KiB floor" in text
    assert "new scenarios (no baseline yet): fresh" in text
    assert "removed scenarios (in BASE only): gone" in text
    assert "3 regressions" in text  # leaky: retained/iter, retained, instructions


def test_informational_metrics_appear_only_when_verbose() -> None:
    c = mixed()
    assert "allocated" not in render_terminal(c)
    assert "allocated" in render_terminal(c, verbose=True)
    assert "allocated" not in markdown.render(c)
    assert "allocated" in markdown.render(c, verbose=True)


def test_the_time_rows_say_what_they_measure_in_plain_words() -> None:
    text = render_terminal(mixed())
    rows = [line for line in text.splitlines() if line.startswith("│")]
    (row,) = [line for line in rows if "instructions/iter" in line]
    assert "2 M" in row and "2.6 M" in row and "+30.0% more" in row and "regression" in row
    (wall,) = [line for line in rows if "wall time/iter" in line and "[+3" in line]
    assert "ms" in wall and "+36.4% slower" in wall and "instructions grew too" in wall
    assert "x)" not in text  # no bare reference ratios
    assert "instructions/iter: CPU instructions per iteration counted under Valgrind" in text


def test_names_and_notes_are_not_parsed_as_rich_markup() -> None:
    doc = results({"[bold]odd[/bold]": scenario()})
    text = render_terminal(compare(doc, doc))
    assert "[bold]odd[/bold]" in text


def test_markdown_puts_regressions_first_and_collapses_details() -> None:
    text = markdown.render(mixed())
    assert text.startswith("### ❌ leakbench: 3 regressions")
    news = text[: text.index("<details>")]
    assert news.index("`leaky`") < news.index("`ack`")
    assert "`clean`" not in news  # plain "ok" rows are only in the collapsed table
    assert "<details><summary>All metrics" in text
    assert "<details><summary>Top leaking call sites (HEAD)</summary>" in text
    assert "make\\|client" in text  # pipes escaped inside table cells
    assert "**New scenarios** (no baseline yet): `fresh`" in text
    assert "**Removed scenarios**: `gone`" in text


def test_markdown_of_a_clean_run_says_so() -> None:
    doc = results({"a": scenario(), "b": scenario()})
    text = markdown.render(compare(doc, doc))
    assert text.startswith("### ✅ leakbench: all within budget in 2 scenarios")
    assert "All 2 scenarios are within budget." in text


def test_markdown_notes_environment_differences() -> None:
    base = results({"a": scenario()})
    head = results({"a": scenario()}, env(cpu_model="Other CPU"))
    text = markdown.render(compare(base, head))
    assert "> wall time not comparable (cpu_model: Test CPU @ 2.0GHz -> Other CPU)" in text


def test_the_json_report_carries_every_metric_and_the_budget_source() -> None:
    doc = json.loads(json_report.render(mixed()))
    names = [s["name"] for s in doc["scenarios"]]
    assert names[0] == "leaky" and set(names) == {"leaky", "ack", "clean"}
    ack = next(s for s in doc["scenarios"] if s["name"] == "ack")
    assert ack["verdict"] == "accepted" and ack["budget"]["reason"] == "known, #7"
    assert len(ack["metrics"]) == 6  # five memory metrics and wall time (no counts: no row)
    leaky = next(s for s in doc["scenarios"] if s["name"] == "leaky")
    row = next(m for m in leaky["metrics"] if m["metric"] == "instructions")
    assert row["kind"] == "instructions" and row["verdict"] == "regression" and row["gated"]
    assert doc["new"] == ["fresh"] and doc["removed"] == ["gone"]
    assert doc["summary"]["exit_code"] == 1
