"""Budgets from ``[tool.leakbench]``: defaults, overrides, precedence, and bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from leakbench._util.pyproject import find_pyproject
from leakbench._util.sizes import format_size
from leakbench.gate.verdicts import budgets
from leakbench.gate.verdicts.budgets import (
    DEFAULT_GATED_METRICS,
    Budget,
    BudgetError,
    from_table,
    load,
    parse_fraction,
    parse_size,
)
from leakbench.plugin.options import TABLE_KEYS

PYPROJECT = """
[project]
name = "demo"

[tool.leakbench]
memory_budget = 0.25
time_budget = "15%"
memory_floor = "128KiB"
leaks = true  # a plugin setting sharing the table is not a budget error (with TABLE_KEYS)

[tool.leakbench.scenarios."httpx.leaky"]
memory_budget = 0.5
reason = "pool grows until #123 lands"

[tool.leakbench.scenarios."chroma.clean"]
time_budget = 0.3
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pyproject.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_no_pyproject_means_the_documented_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(budgets, "find_pyproject", lambda start=None: None)
    config = budgets.load()
    assert config.for_scenario("any") == Budget(0.2, 0.1, 65536)
    assert config.gated_metrics == DEFAULT_GATED_METRICS


def test_a_pyproject_without_the_table_gives_defaults(tmp_path: Path) -> None:
    config = load(write(tmp_path, "[project]\nname = 'x'\n"))
    assert config.for_scenario("s") == Budget()


def test_global_and_per_scenario_budgets_are_read(tmp_path: Path) -> None:
    config = load(write(tmp_path, PYPROJECT), TABLE_KEYS)
    other = config.for_scenario("threads.clean")
    assert (other.memory, other.time, other.memory_floor) == (0.25, 0.15, 128 * 1024)
    httpx = config.for_scenario("httpx.leaky")
    assert (httpx.memory, httpx.time, httpx.memory_floor) == (0.5, 0.15, 128 * 1024)
    assert httpx.reason == "pool grows until #123 lands"
    assert "httpx.leaky" in httpx.source
    chroma = config.for_scenario("chroma.clean")
    assert (chroma.memory, chroma.time, chroma.reason) == (0.25, 0.3, "")


def test_the_marker_beats_the_scenario_table(tmp_path: Path) -> None:
    config = load(write(tmp_path, PYPROJECT), TABLE_KEYS)
    budget = config.for_scenario("httpx.leaky", {"memory_budget": 0.9})
    assert budget.memory == 0.9 and budget.source == "marker"
    assert budget.reason == "pool grows until #123 lands"


def test_the_nearest_pyproject_is_found_from_a_subfolder(tmp_path: Path) -> None:
    path = write(tmp_path, PYPROJECT)
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    assert find_pyproject(sub) == path


@pytest.mark.parametrize(
    ("text", "expected"),
    [(65536, 65536), ("64KiB", 65536), ("64 kib", 65536), ("1.5MiB", 1572864), ("100kB", 100_000)],
)
def test_sizes_parse(text: object, expected: int) -> None:
    assert parse_size(text, "here") == expected


@pytest.mark.parametrize(
    "text",
    # The last four are accepted by leakbench._util.sizes (which parse_size delegates to), not here.
    ["64 KiBs", "-1", -5, True, "lots", [1], "9" * 400, "1TB", "50%", "1."],
)
def test_bad_sizes_name_their_source(text: object) -> None:
    with pytest.raises(BudgetError, match=r"^here: "):
        parse_size(text, "here")


@pytest.mark.parametrize(("text", "expected"), [(0.2, 0.2), ("20%", 0.2), ("0.5", 0.5), (1, 1.0)])
def test_fractions_parse(text: object, expected: float) -> None:
    assert parse_fraction(text, "here") == pytest.approx(expected)


@pytest.mark.parametrize("text", [-0.1, "abc", "nan", True, None])
def test_bad_fractions_name_their_source(text: object) -> None:
    with pytest.raises(BudgetError, match=r"^here: "):
        parse_fraction(text, "here")


def test_a_typo_in_a_scenario_table_is_an_error_naming_the_table(tmp_path: Path) -> None:
    path = write(tmp_path, '[tool.leakbench.scenarios."a.b"]\nmemory_budegt = 0.5\n')
    with pytest.raises(BudgetError) as caught:
        load(path)
    message = str(caught.value)
    assert 'scenarios."a.b"]: unknown key(s) memory_budegt (allowed: ' in message
    assert message.endswith("; did you mean 'memory_budget'?")


def test_a_bad_global_value_names_the_file_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, "[tool.leakbench]\nmemory_budget = -1\n")
    with pytest.raises(BudgetError, match=r"pyproject\.toml \[tool\.leakbench\] memory_budget"):
        load(path)


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[tool.leakbench\n")
    with pytest.raises(BudgetError, match="invalid TOML"):
        load(path)


def test_gated_metrics_are_configurable_and_validated() -> None:
    assert from_table({"memory_metrics": ["peak_bytes"]}).gated_metrics == ("peak_bytes",)
    with pytest.raises(BudgetError, match="unknown metric"):
        from_table({"memory_metrics": ["rss"]})


def test_a_reason_must_be_text() -> None:
    with pytest.raises(BudgetError, match="reason must be a string"):
        from_table({"scenarios": {"s": {"reason": 3}}})


@pytest.mark.parametrize(
    ("n", "text"), [(300, "300 B"), (65536, "64 KiB"), (1572864, "1.5 MiB"), (-2048, "-2 KiB")]
)
def test_sizes_format_in_binary_units(n: int, text: str) -> None:
    assert format_size(n) == text
