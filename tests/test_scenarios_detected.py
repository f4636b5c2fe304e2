"""``pytest --leaks`` over the suites reports every leaky scenario, and only those.

This is leakbench's regression test on real leaks: the demo suite (every
scenario as a test, plus the service locator's order-dependent pair) runs in a
subprocess with every detector on, from the repository root so it uses the
project's own configuration (``filterwarnings = error`` included). Then, per
scenario, the kinds the plugin reported (``[kind] ...`` lines in the test's
teardown error) must be exactly the kinds the scenario declares; clean scenarios
must pass; the end-of-run ``leakbench`` summary must list each leak under its
kind. The locator's ``globals`` leak is watched through ``leaks_globals`` in
``[tool.leakbench]`` of ``pyproject.toml``; its order-dependent pair shows both the
test that changed the cache and the later test that fails because of it.

``KNOWN_PLUGIN_BUGS`` lists mismatches caused by known plugin bugs. The test
fails when one of them stops reproducing, so the list is kept honest.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from leakbench import detectors
from leakbench.gate.scenarios import discover

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = discover(root=REPO)
KIND_LINE = re.compile(r"^\[(\w+)\] ", re.MULTILINE)
SUMMARY_TITLE = "leakbench: leaking tests by kind"

KNOWN_PLUGIN_BUGS: dict[str, str] = {
    "httpx.clean": (
        "objects: the first request imports httpcore/anyio/attrs lazily; what those imports "
        "put in pre-existing modules' caches (typing, importlib FileFinder) is not reachable "
        "from the new modules alone, so ~177 tuples are counted as leaked by the first "
        "httpx test of the process"
    ),
}


@dataclass
class Outcome:
    failed: bool = False
    text: str = ""
    kinds: set[str] = field(default_factory=set)


@dataclass
class Demo:
    stdout: str
    tests: dict[str, Outcome]
    summary: dict[str, set[str]]
    """kind -> test ids listed under it in the end-of-run summary."""


def run_demo(tmp_path: Path) -> Demo:
    junit = tmp_path / "junit.xml"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "LEAKBENCH_"))}
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "suites", "--leaks=all", "-q", f"--junitxml={junit}"),
            *("-p", "no:cacheprovider", "-p", "no:randomly"),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert junit.exists(), f"the demo run produced no report:\n{proc.stdout}\n{proc.stderr}"
    return Demo(proc.stdout, parse_junit(junit), parse_summary(proc.stdout))


def parse_junit(path: Path) -> dict[str, Outcome]:
    tests: dict[str, Outcome] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        test_id = f"{case.get('classname')}::{case.get('name')}"
        outcome = tests.setdefault(test_id, Outcome())
        for problem in [*case.iter("failure"), *case.iter("error")]:
            outcome.failed = True
            outcome.text += f"{problem.get('message', '')}\n{problem.text or ''}\n"
        outcome.kinds = set(KIND_LINE.findall(outcome.text))
    return tests


def parse_summary(stdout: str) -> dict[str, set[str]]:
    """The final summary: a ``kind: N leak(s) in M test(s)`` line, then ``  test id: ...``."""
    summary: dict[str, set[str]] = {}
    if SUMMARY_TITLE not in stdout:
        return summary
    kind = None
    for line in stdout.split(SUMMARY_TITLE, 1)[1].splitlines()[1:]:
        header = re.match(r"^(\w+): \d+ leak", line)
        if header:
            kind = header.group(1)
            summary.setdefault(kind, set())
        elif line.startswith("  ") and kind is not None:
            summary[kind].add(line.strip().split(": ", 1)[0])
        elif line.startswith("="):
            break
    return summary


def expected_kinds(name: str) -> set[str]:
    return set(SCENARIOS[name].detectors) & set(detectors.known())


def mismatches(demo: Demo) -> dict[str, str]:
    """Scenario name -> what the plugin got wrong for it (empty when all is right)."""
    wrong: dict[str, str] = {}
    for name in SCENARIOS:
        node = f"suites/test_scenarios.py::test_scenario[{name}]"
        outcome = demo.tests.get(f"suites.test_scenarios::test_scenario[{name}]")
        if outcome is None:
            wrong[name] = "did not run"
            continue
        want = expected_kinds(name)
        if outcome.kinds != want:
            wrong[name] = f"reported {sorted(outcome.kinds)}, declared {sorted(want)}"
        elif outcome.failed != bool(want):
            wrong[name] = f"failed={outcome.failed} without a leak report:\n{outcome.text[:2000]}"
        else:
            missing = [k for k in want if node not in demo.summary.get(k, set())]
            if missing:
                wrong[name] = f"not in the final summary under {missing}"
    return wrong


def test_every_leaky_scenario_is_reported_with_its_kinds_and_clean_ones_pass(
    tmp_path: Path,
) -> None:
    demo = run_demo(tmp_path)
    assert SUMMARY_TITLE in demo.stdout, demo.stdout[-3000:]
    wrong = mismatches(demo)
    unexpected = {n: why for n, why in wrong.items() if n not in KNOWN_PLUGIN_BUGS}
    fixed = sorted(set(KNOWN_PLUGIN_BUGS) - set(wrong))
    assert not unexpected, "\n".join(f"{n}: {why}" for n, why in unexpected.items())
    assert not fixed, f"known plugin bugs no longer reproduce, remove them: {fixed}"

    # The locator pair: globals names the test that changed the cache; the next test
    # fails because of it (and changed nothing itself).
    pair = "suites.test_locator_order"
    leaky_configure = demo.tests[f"{pair}.TestLeakyLocator::test_configure_sandbox"]
    assert leaky_configure.failed and leaky_configure.kinds == {"globals"}
    assert "LeakyServiceLocator._cache changed: added 1 key ('settings')" in leaky_configure.text
    leaky_default = demo.tests[f"{pair}.TestLeakyLocator::test_default_endpoint"]
    assert leaky_default.failed and "leaked from another test" in leaky_default.text
    assert not leaky_default.kinds
    for test in ("test_configure_sandbox", "test_default_endpoint"):
        assert not demo.tests[f"{pair}.TestCleanLocator::{test}"].failed
