"""Every scenario, run once as a test: ``pytest --leaks suites/`` is the demo.

Leaky scenarios are *expected* to be reported by ``pytest --leaks`` (that is what
the demo shows); clean ones must pass. The scenario's session (loopback server,
temporary Chroma directory, event loop) is entered in a function-scoped fixture,
so it is started before the test and stopped after it, and the test body is
exactly one iteration: what leaks past the session's end is the test's leak.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from leakbench import Iteration, Scenario, discover
from suites.conftest import RUNTIMES

ALL = discover("suites", root=Path(__file__).resolve().parent.parent)


@pytest.fixture
def iteration(request: pytest.FixtureRequest) -> Iterator[Iteration]:
    scenario: Scenario = request.param
    runtime = RUNTIMES.get(scenario.leak_class)
    if runtime is not None:
        request.getfixturevalue(runtime)
    with scenario.session() as run_once:
        yield run_once


@pytest.mark.parametrize("iteration", list(ALL.values()), ids=list(ALL), indirect=True)
def test_scenario(iteration: Iteration) -> None:
    iteration()
