"""Corpus, pattern 7: advice and output on real suites.

A leak created by library code (a ``logging.handlers.QueueListener`` started and never
stopped: its thread is started inside the standard library) comes with the exact
``--leaks-allow`` / ini pattern that matches it, and that pattern does allow it. The
end-of-run summary is capped, says how many lines it left out and where the full list
is (``--leaks-json``), which has every leak.
"""

from __future__ import annotations

import json

import pytest

from conftest import Run
from corpus import MODES, run_corpus

LISTENER = """
import logging.handlers
import queue

LISTENERS = []


def test_listener_started_and_never_stopped():
    listener = logging.handlers.QueueListener(queue.Queue())
    listener.start()
    LISTENERS.append(listener)
"""

MANY = """
from unittest import mock

import pytest


@pytest.mark.parametrize("n", range(80))
def test_patches_and_forgets(n):
    mock.patch("settings.VALUE", n).start()
"""

PATTERN = "threads:logging.handlers.QueueListener._monitor"


def test_a_library_created_leak_prints_the_pattern_that_allows_it(
    leak_project: pytest.Pytester, run: Run
) -> None:
    mode = "serial"  # the text is the same under -n 2
    leak_project.makepyfile(test_listener=LISTENER)
    result = run_corpus(run, mode, "--leaks")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "[[]threads[]] thread 'Thread-* (_monitor)' (daemon=True, "
            "target=logging.handlers.QueueListener._monitor) is still running",
            f"    created by library code; if it is meant to outlive the test, allow it with "
            f"--leaks-allow='{PATTERN}' (ini: leaks_allow = {PATTERN})",
        ]
    )
    allowed = run_corpus(run, mode, "--leaks", f"--leaks-allow={PATTERN}")
    allowed.assert_outcomes(passed=1)


def test_a_test_that_starts_its_own_thread_gets_no_allow_pattern(
    leak_project: pytest.Pytester, run: Run
) -> None:
    leak_project.makepyfile(
        test_own="""
        import threading

        def test_own_thread():
            threading.Thread(target=threading.Event().wait, name="mine", daemon=True).start()
        """
    )
    result = run_corpus(run, "serial", "--leaks")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.no_fnmatch_line("*created by library code*")
    result.stdout.fnmatch_lines(
        ['Fix the test, or allow it with @pytest.mark.allow_leaks("threads", *']
    )


@pytest.mark.parametrize("mode", list(MODES))
def test_the_summary_is_capped_and_points_to_the_full_list(
    leak_project: pytest.Pytester, run: Run, mode: str
) -> None:
    leak_project.makepyfile(test_many=MANY, settings="VALUE = 0\n")
    result = run_corpus(run, mode, "--leaks", "--leaks-json=out.json")
    result.assert_outcomes(passed=80, errors=80)
    summary = result.stdout.str().split("leakbench: leaking tests by kind")[1]
    entries = [line for line in summary.splitlines() if line.startswith("  test_many.py::")]
    assert len(entries) == 60
    result.stdout.fnmatch_lines(
        [
            "patches: 80 leak(s) in 80 test(s)",
            "... and 20 more line(s) not shown; the full list is in *out.json (--leaks-json)",
        ]
    )
    tests = json.loads((leak_project.path / "out.json").read_text())["tests"]
    assert sum(len(record["leaks"]) for record in tests.values()) == 80
