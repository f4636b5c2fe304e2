"""Scenario names are free-form; "leaky" / "clean" is an optional label.

A project's workloads are ``cache.lookup`` or ``db.query[large]``, not ``<class>.leaky``: a
scenario needs only a name and a session, its group (``leak_class``) defaults to the name's
first part, and its label (``variant``) to what a demo-style name says, else none (``""``).
The demo suites keep their names and labels unchanged (``test_scenarios_contract.py``). A
bad definition is one error naming the module and the scenario, and an unlabelled scenario
goes through every consumer: the measurement child's listing, the time cap, the results
document.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path

import pytest

from leakbench import Iteration, Scenario
from leakbench.gate.measure.child import list_scenarios
from leakbench.gate.measure.plan import (
    CLEAN_TIME_ITERATIONS,
    LEAKY_TIME_ITERATIONS,
    time_iterations_for,
)
from leakbench.gate.results import Results, ScenarioResult, load_results, write_results
from leakbench.gate.scenarios import SuitesError, discover, implied_label, select
from test_compare_support import env


def _nothing() -> None:
    pass


def _session() -> nullcontext[Iteration]:
    return nullcontext(_nothing)


def test_a_name_and_a_session_are_enough() -> None:
    s = Scenario(name="cache.lookup", session=_session)
    assert (s.leak_class, s.variant, s.detectors) == ("cache", "", ())
    assert Scenario(name="warmup", session=_session).leak_class == "warmup"


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("httpx.leaky", "leaky"),
        ("threads.clean.executor", "clean"),
        ("cache.lookup", ""),
        ("leaky", ""),
        ("cache.leakyish", ""),
        ("a.b.leaky", ""),
    ],
)
def test_the_label_defaults_from_a_demo_style_name_only(name: str, label: str) -> None:
    assert implied_label(name) == label
    assert Scenario(name=name, session=_session).variant == label


def test_an_explicit_label_or_group_wins_and_the_positional_form_still_works() -> None:
    assert Scenario(name="cache.lookup", variant="clean", session=_session).variant == "clean"
    assert Scenario(name="x.leaky", variant="", session=_session).variant == ""
    old = Scenario("grow.leaky", "grow", "leaky", ("threads",), _session, leaks_memory=True)
    assert (old.leak_class, old.variant, old.detectors, old.leaks_memory) == (
        "grow",
        "leaky",
        ("threads",),
        True,
    )
    assert replace(old, name="grow.other").variant == "leaky"  # replace() keeps fields


@pytest.mark.parametrize("name", ["cache lookup", "a/b", "a\\b", ".a", "a.", "a..b", "", "a\x00b"])
def test_a_bad_name_is_refused_naming_it(name: str) -> None:
    with pytest.raises(ValueError, match="scenario name") as info:
        Scenario(name=name, session=_session)
    assert repr(name) in str(info.value)


def test_a_bad_label_or_a_missing_session_is_refused() -> None:
    with pytest.raises(ValueError, match="variant 'slow' must be"):
        Scenario(name="cache.lookup", variant="slow", session=_session)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="session= must be"):
        Scenario(name="cache.lookup")


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    """A scenario package of its own name under ``tmp_path``, forgotten afterwards."""
    name = f"lb_names_{tmp_path.name.replace('-', '_')}"
    (tmp_path / name).mkdir()
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path, name
    for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[module]


MODULE = """
from contextlib import nullcontext
from leakbench import Iteration, Scenario

def _session():
    return nullcontext(lambda: None)

SCENARIOS = [{entries}]
"""


def _write(root: Path, package: str, module: str, *entries: str) -> None:
    text = MODULE.format(entries=", ".join(entries))
    (root / package / f"{module}.py").write_text(text)


def test_free_form_scenarios_are_discovered_and_selected_by_group(
    package: tuple[Path, str],
) -> None:
    root, name = package
    _write(
        root,
        name,
        "cache",
        'Scenario(name="cache.lookup", session=_session)',
        'Scenario(name="cache.miss[cold]", session=_session)',
    )
    _write(root, name, "db", 'Scenario(name="db.query", session=_session)')
    found = discover(name, root)  # a folder without __init__.py: a namespace package
    assert list(found) == ["cache.lookup", "cache.miss[cold]", "db.query"]
    assert [s.name for s in select(found, ["cache"])] == ["cache.lookup", "cache.miss[cold]"]


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        (['Scenario(name="cache lookup", session=_session)'], "bad: scenario name 'cache lookup'"),
        (['Scenario(name="a.b", session=_session)'] * 2, "bad: scenario 'a.b' is defined twice"),
        (['"a.b"'], "bad: SCENARIOS holds 'a.b', not a leakbench.Scenario"),
    ],
)
def test_a_bad_definition_is_one_error_naming_the_module(
    package: tuple[Path, str], entries: list[str], message: str
) -> None:
    root, name = package
    _write(root, name, "bad", *entries)
    with pytest.raises(SuitesError) as info:
        discover(name, root)
    assert str(info.value).startswith(f"{name}.{message}")
    assert isinstance(info.value, ImportError)  # what the CLI reports in one line


def test_an_unlabelled_scenario_is_timed_like_a_clean_one() -> None:
    assert time_iterations_for(Scenario(name="cache.lookup", session=_session)) == (
        CLEAN_TIME_ITERATIONS
    )
    assert time_iterations_for(Scenario(name="x.leaky", session=_session)) == (
        LEAKY_TIME_ITERATIONS
    )


def test_the_measurement_child_lists_an_unlabelled_scenario(package: tuple[Path, str]) -> None:
    root, name = package
    _write(root, name, "cache", 'Scenario(name="cache.lookup", session=_session)')
    infos = list_scenarios(suites=name, root=root, what="listing", timeout=120)
    assert set(infos) == {"cache.lookup"}
    assert (infos["cache.lookup"].leak_class, infos["cache.lookup"].variant) == ("cache", "")


def test_a_results_document_keeps_an_unlabelled_scenario(tmp_path: Path) -> None:
    unlabelled = ScenarioResult(leak_class="cache", variant="", leaks_memory=False)
    doc = Results(created="2026-12-02T07:00:00+00:00", environment=env(), scenarios={})
    doc = replace(doc, scenarios={"cache.lookup": unlabelled})
    back = load_results(write_results(doc, tmp_path / "r.json"))
    assert back.scenarios["cache.lookup"].variant == ""
