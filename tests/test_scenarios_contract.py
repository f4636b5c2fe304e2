"""The suites follow the scenario contract; unknown names fail with the known list.

These checks keep the suites usable by the benchmark and the demo: every leak
class has a leaky and a clean variant, names say class and variant, leaky ones
name the detectors that catch them, every scenario is explained in its module's
docstring, and asking for a name that does not exist lists the ones that do.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from leakbench import detectors
from leakbench.gate.scenarios import (
    Scenario,
    UnknownScenarioError,
    discover,
    matching,
    run_iterations,
    select,
)

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = discover(root=REPO)
CLASSES = ("threads", "tasks", "httpx", "chroma", "mocks", "learning", "locator", "subprocesses")
FUTURE_KINDS: set[str] = set()  # kinds scenarios may declare before their detector exists


def test_every_leak_class_has_a_leaky_and_a_clean_variant() -> None:
    for leak_class in CLASSES:
        variants = {s.variant for s in SCENARIOS.values() if s.leak_class == leak_class}
        assert variants == {"leaky", "clean"}, leak_class


@pytest.mark.parametrize("scenario", list(SCENARIOS.values()), ids=list(SCENARIOS))
def test_scenario_is_well_formed(scenario: Scenario) -> None:
    parts = scenario.name.split(".")
    assert parts[:2] == [scenario.leak_class, scenario.variant]
    assert scenario.description
    if scenario.variant == "leaky":
        assert scenario.detectors, "a leaky scenario must say which detector catches it"
        unknown = set(scenario.detectors) - set(detectors.known()) - FUTURE_KINDS
        assert not unknown
    else:
        assert scenario.detectors == ()
        assert not scenario.leaks_memory


@pytest.mark.parametrize("scenario", list(SCENARIOS.values()), ids=list(SCENARIOS))
def test_module_docstring_explains_the_scenario(scenario: Scenario) -> None:
    module = importlib.import_module(scenario.session.__module__)
    assert f"**{scenario.name}**" in (module.__doc__ or "")


def test_leaky_memory_scenarios_have_a_clean_twin() -> None:
    for s in SCENARIOS.values():
        if s.leaks_memory:
            assert any(
                t.leak_class == s.leak_class and t.variant == "clean" for t in SCENARIOS.values()
            )


def test_unknown_scenario_name_lists_the_known_ones() -> None:
    with pytest.raises(UnknownScenarioError) as info:
        select(SCENARIOS, ["httpx.leaky", "no.such.scenario"])
    message = str(info.value)
    assert "'no.such.scenario'" in message
    for name in SCENARIOS:
        assert name in message


def test_a_leak_class_selects_all_its_variants() -> None:
    chosen = {s.name for s in select(SCENARIOS, ["tasks"])}
    assert chosen == {n for n, s in SCENARIOS.items() if s.leak_class == "tasks"}


LEAK_CLASSES = {"a.leaky": "a", "a.clean": "a", "b.clean": "b", "c.clean": "c"}


def test_matching_follows_the_request_order_without_repeats() -> None:
    assert matching(["b.clean", "a", "a.clean"], LEAK_CLASSES) == ["b.clean", "a.leaky", "a.clean"]


def test_matching_nothing_asked_is_everything() -> None:
    assert matching([], LEAK_CLASSES) == list(LEAK_CLASSES)


def test_matching_an_unknown_entry_names_it_and_every_known_scenario() -> None:
    with pytest.raises(UnknownScenarioError) as info:
        matching(["a", "zz"], LEAK_CLASSES)
    assert str(info.value) == "unknown scenario 'zz' (known: a.clean, a.leaky, b.clean, c.clean)"
    assert info.value.name == "zz"


def test_run_iterations_runs_a_clean_scenario_repeatedly() -> None:
    """A clean scenario can run many iterations in one session (what the benchmark does)."""
    done = list(run_iterations(SCENARIOS["threads.clean"], 3))
    assert done == [0, 1, 2]
