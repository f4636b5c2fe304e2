"""Corpus, pattern 4: the same verdict whatever a test's place in its scope.

A leak that only a wider scope's teardown cleans up (``teardown_module``, a module
fixture's finalizer) is the test's leak wherever the test sits: the check runs after
the test's own teardown and before any wider scope's, so a test is judged the same
when it is the last of its module (whose teardown then runs inside its own) and when
it is not, serially and under ``-n 2`` (where which test is last of a scope on a
worker changes from run to run). A module fixture's own thread is still the
fixture's.
"""

from __future__ import annotations

import pytest

from conftest import Run
from corpus import MODES, assert_verdicts, run_corpus

HEAD = """
import subprocess
import sys
import threading

import pytest

CHILDREN = []


def teardown_module():
    for child in CHILDREN:
        child.kill()
        child.wait()


@pytest.fixture(scope="module")
def workers():
    stop = threading.Event()
    own = threading.Thread(target=stop.wait, name="module-worker-{tag}", daemon=True)
    own.start()  # the fixture's own thread: the fixture's
    started = []
    yield started, stop
    stop.set()
    for thread in [own, *started]:
        thread.join()
"""

CLEAN = """

def test_clean_uses_the_module_worker_{tag}(workers):
    pass


def test_clean_child_waited_for_{tag}():
    subprocess.run([sys.executable, "-c", "pass"], check=True)
"""

LEAKY = """

def test_leaky_child_only_teardown_module_waits_for_{tag}():
    CHILDREN.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]))


def test_leaky_thread_only_the_module_fixture_stops_{tag}(workers):
    started, stop = workers
    thread = threading.Thread(target=stop.wait, name="left-for-the-module-{tag}", daemon=True)
    thread.start()
    started.append(thread)
"""

CLEAN_NAMES = ("test_clean_uses_the_module_worker", "test_clean_child_waited_for")
LEAKY_NAMES = (
    "test_leaky_child_only_teardown_module_waits_for",
    "test_leaky_thread_only_the_module_fixture_stops",
)


@pytest.mark.parametrize("mode", list(MODES))
def test_a_leak_cleaned_by_a_wider_teardown_is_reported_wherever_the_test_sits(
    leak_project: pytest.Pytester, run: Run, mode: str
) -> None:
    # The leaky tests last in one module (its teardown runs inside theirs), first in
    # the other.
    leak_project.makepyfile(
        test_last=(HEAD + CLEAN + LEAKY).format(tag="last"),
        test_first=(HEAD + LEAKY + CLEAN).format(tag="first"),
    )
    result = run_corpus(run, mode, "--leaks")
    leaky = {f"test_{tag}.py::{name}_{tag}" for tag in ("last", "first") for name in LEAKY_NAMES}
    clean = {f"test_{tag}.py::{name}_{tag}" for tag in ("last", "first") for name in CLEAN_NAMES}
    assert_verdicts(result, leaky=leaky, clean=clean)
    result.stdout.fnmatch_lines_random(
        [
            "[[]processes[]] process * (*python* -c import time; time.sleep(30)) is still running",
            "[[]threads[]] thread 'left-for-the-module-last' (daemon=True, *) is still running",
            "[[]threads[]] thread 'left-for-the-module-first' (daemon=True, *) is still running",
        ]
    )
    result.stdout.no_fnmatch_line("*'module-worker-*")
