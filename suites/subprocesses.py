"""A git client that spawns ``git`` per call and never waits for it.

**subprocesses.leaky** models a library's process-wide git client (like the
default client of a VCS helper) that runs ``git --version`` with
``subprocess.Popen(..., stdout=PIPE)``, reads the first line, and keeps the
``Popen`` object "to check its exit status later", which never happens. The
child exits but is never reaped: one zombie process and one open pipe per call,
until ``fork`` fails with ``EAGAIN`` or the fd limit is hit; pytest itself
reports nothing. The fix (**subprocesses.clean**): ``with subprocess.Popen(...)
as proc`` (or ``subprocess.run``), which closes the pipes and waits.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

from leakbench import Iteration, Scenario


class GitClient:
    """Asks git for its version; the leaky form keeps every child it started."""

    def __init__(self) -> None:
        self.processes: list[subprocess.Popen[str]] = []

    def _argv(self) -> list[str]:
        git = shutil.which("git")
        if git is None:
            raise RuntimeError("the subprocesses scenario needs `git` on PATH")
        return [git, "--version"]

    def version_leaky(self) -> str:
        proc = subprocess.Popen(self._argv(), stdout=subprocess.PIPE, text=True)
        self.processes.append(proc)  # "check the exit status later"
        assert proc.stdout is not None
        return proc.stdout.readline().strip()

    def version(self) -> str:
        with subprocess.Popen(self._argv(), stdout=subprocess.PIPE, text=True) as proc:  # the fix
            assert proc.stdout is not None
            line = proc.stdout.readline().strip()
        return line


# The library's default client: lives as long as the process.
git = GitClient()


@contextmanager
def _session(wait: bool) -> Iterator[Iteration]:
    def iteration() -> None:
        line = git.version() if wait else git.version_leaky()
        assert line.startswith("git version"), line

    yield iteration


# Every leaky call leaves a zombie process and a pipe behind: ``leakbench bench``
# caps its timed iterations (both variants alike) so the pile-up stays out of the time.
PILE_UP_CAP = 200

SCENARIOS: list[Scenario] = [
    Scenario(
        name="subprocesses.leaky",
        leak_class="subprocesses",
        variant="leaky",
        detectors=("processes", "fds"),
        session=lambda: _session(wait=False),
        description="git spawned per call with a pipe, never waited or closed",
        time_max_iterations=PILE_UP_CAP,
        leaks_memory=True,
    ),
    Scenario(
        name="subprocesses.clean",
        leak_class="subprocesses",
        variant="clean",
        detectors=(),
        session=lambda: _session(wait=True),
        description="Popen as a context manager: pipes closed, child waited",
        time_max_iterations=PILE_UP_CAP,
    ),
]
