"""The service-locator leak: an order-dependent test pair, shown with pytester.

The leaky locator's class-level cache carries one test's settings into the next
test of the same process, so the pair fails in one order and passes in the
other. The clean locator, reset by a fixture around each test, passes in both
orders and under ``-n 2``. Each run is a fresh subprocess: the locator's state is
process-wide, so in-process runs would contaminate each other.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

BODIES = {
    "configure": "def test_configure_sandbox():\n    configure_sandbox(VARIANT)\n",
    "default": "def test_default_endpoint():\n    expect_default_endpoint(VARIANT)\n",
}
RESET_FIXTURE = """
@pytest.fixture(autouse=True)
def _fresh_locator():
    with reset_between_tests(VARIANT):
        yield
"""


def write_pair(pytester: pytest.Pytester, variant: str, order: tuple[str, str]) -> None:
    header = (
        "import pytest\n"
        "from suites.locator import configure_sandbox, expect_default_endpoint, "
        "reset_between_tests\n"
        f"VARIANT = {variant!r}\n"
    )
    fixture = RESET_FIXTURE if variant == "clean" else ""
    source = header + fixture + "\n" + "\n\n".join(BODIES[name] for name in order)
    pytester.makepyfile(test_pair=source)


@pytest.fixture
def pair_env(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:randomly", "-p", "no:cacheprovider", *args)


def test_leaky_pair_fails_when_the_sandbox_test_runs_first(pair_env: pytest.Pytester) -> None:
    write_pair(pair_env, "leaky", ("configure", "default"))
    result = run(pair_env)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*AssertionError: leaked from another test: https://sandbox.*",
            "FAILED *test_default_endpoint*",
        ]
    )


def test_leaky_pair_passes_in_the_other_order(pair_env: pytest.Pytester) -> None:
    write_pair(pair_env, "leaky", ("default", "configure"))
    run(pair_env).assert_outcomes(passed=2)


@pytest.mark.parametrize("order", [("configure", "default"), ("default", "configure")])
def test_clean_pair_passes_in_both_orders(
    pair_env: pytest.Pytester, order: tuple[str, str]
) -> None:
    write_pair(pair_env, "clean", order)
    run(pair_env).assert_outcomes(passed=2)


def test_clean_pair_passes_under_xdist(pair_env: pytest.Pytester) -> None:
    write_pair(pair_env, "clean", ("configure", "default"))
    # loadfile: both tests share a worker, as they would among many tests under -n.
    run(pair_env, "-n", "2", "--dist=loadfile").assert_outcomes(passed=2)


def test_leaky_pair_fails_under_xdist_when_both_tests_share_a_worker(
    pair_env: pytest.Pytester,
) -> None:
    # The same run as above with the leaky locator: it fails, so the two tests did share
    # a worker there, and the clean pair passed because of its reset, not by luck.
    write_pair(pair_env, "leaky", ("configure", "default"))
    run(pair_env, "-n", "2", "--dist=loadfile").assert_outcomes(passed=1, failed=1)
