"""Corpus, pattern 5: multiprocessing ``spawn`` children are the starting test's.

The ``spawn`` start method (and multiprocessing's resource tracker) start processes
without ``subprocess.Popen``, so no audit event fires: a child that is never joined
must still be reported on the test that started it, not on whichever later test
spawns something. The resource tracker, which the first spawning test of a process
starts and multiprocessing keeps for the life of the process (a module-level
singleton holds its pid and pipe), is no test's leak. A test that installs a signal
handler holding a supervisor (a child with open pipes) and never restores it still
leaks that child and those pipes.
"""

from __future__ import annotations

import pytest

from conftest import Run
from corpus import MODES, assert_verdicts, run_corpus

WORK = """
import subprocess
import sys
import time


def work():
    pass


def square(n):
    return n * n


def sleep():
    time.sleep(30)


class Supervisor:
    def __init__(self):
        self.child = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(30)"], stdout=subprocess.PIPE
        )

    def on_signal(self, signum, frame):
        self.child.terminate()
"""

TESTS = """
import multiprocessing
import signal
import subprocess
import sys

import mpwork

SPAWN = multiprocessing.get_context("spawn")
KEPT = []


def test_spawned_worker_joined():
    worker = SPAWN.Process(target=mpwork.work)
    worker.start()
    worker.join()
    assert worker.exitcode == 0


def test_pool_of_spawned_workers():
    with SPAWN.Pool(1) as pool:
        assert pool.apply(mpwork.square, (3,)) == 9


def test_subprocess_waited_for():
    subprocess.run([sys.executable, "-c", "pass"], check=True)


def test_leaky_spawned_worker_never_joined():
    worker = SPAWN.Process(target=mpwork.sleep, daemon=True, name="forgotten-worker")
    worker.start()
    KEPT.append(worker)


def test_leaky_signal_handler_keeps_a_supervisors_pipes():
    supervisor = mpwork.Supervisor()
    signal.signal(signal.SIGUSR1, supervisor.on_signal)  # never restored
"""

CLEAN = {"test_spawned_worker_joined", "test_pool_of_spawned_workers", "test_subprocess_waited_for"}
LEAKY = {
    "test_leaky_spawned_worker_never_joined",
    "test_leaky_signal_handler_keeps_a_supervisors_pipes",
}


@pytest.mark.parametrize("mode", list(MODES))
def test_spawned_children_are_reported_on_their_test_and_the_resource_tracker_on_none(
    leak_project: pytest.Pytester, run: Run, mode: str
) -> None:
    leak_project.makepyfile(mpwork=WORK, test_spawn=TESTS)
    result = run_corpus(run, mode, "--leaks")
    assert_verdicts(
        result,
        leaky={f"test_spawn.py::{name}" for name in LEAKY},
        clean={f"test_spawn.py::{name}" for name in CLEAN},
    )
    result.stdout.fnmatch_lines_random(
        [
            "*_ ERROR at teardown of test_leaky_spawned_worker_never_joined _*",
            "[[]processes[]] process * (*python* -c from multiprocessing.spawn import *) "
            "is still running",
            "*_ ERROR at teardown of test_leaky_signal_handler_keeps_a_supervisors_pipes _*",
            "[[]processes[]] process * (*python* -c import time; time.sleep(30)) is still running",
            "[[]fds[]] fd *: pipe read end (pipe:*) is still open",
        ]
    )
    result.stdout.no_fnmatch_line("*multiprocessing.resource_tracker import main*")
