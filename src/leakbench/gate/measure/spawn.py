"""Start a measurement child: fresh process, repeatable environment, pinned, killed as a group.

The parent side of every measurement process. ``leakbench.gate.measure.child`` is the one
child program (and holds the one function that starts it, through :func:`run_child`).

Why a fresh process per scenario and pass: memray allows one tracker per process, a leaky
scenario's threads, tasks and caches would distort the next scenario, and import order changes
what is already allocated. The environment is pinned (``child_env``) because string hashing
changes dict layouts and so allocation sizes.

Children are pinned to one CPU (``default_cpu``). Measured on this 2-core machine, two runs
of the thread, httpx and learning scenarios back to back moved the reference-normalised time
by up to +300% unpinned (a thread start/join or a loopback request costs whatever the
cross-core wake-up costs at that moment) and by 2-11% pinned; pinned runs also spread the
per-process medians 5-30% instead of 30-360%. Times are therefore single-core times.

A leaky scenario may leave non-daemon threads or child processes behind; the child is started
in its own session (process group) and, once it has reported, whatever is left of that group
is killed, so a leak under measurement never outlives ``leakbench bench``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

_DROP = (
    "PYTHONMALLOC",  # would bypass pymalloc and change what memray sees
    "PYTHONMALLOCSTATS",
    "PYTHONTRACEMALLOC",  # tracemalloc adds its own allocations
    "PYTHONDEVMODE",  # debug allocator hooks
    "PYTHONASYNCIODEBUG",
    "PYTEST_ADDOPTS",  # could add -n (xdist) or plugins to the time pass
    "PYTEST_PLUGINS",
    "PYTEST_XDIST_WORKER",  # pytest-benchmark disables itself when it sees this
    "PYTEST_XDIST_WORKER_COUNT",
    "PYTEST_XDIST_TESTRUNUID",
)


class MeasurementError(RuntimeError):
    """A measurement child failed; ``str()`` names the scenario, the pass and the cause."""


def child_env() -> dict[str, str]:
    """This process's environment with hashing pinned and allocator/xdist switches removed."""
    env = {k: v for k, v in os.environ.items() if k not in _DROP}
    env["PYTHONHASHSEED"] = "0"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def default_cpu() -> int | None:
    """The CPU measurements are pinned to: the last one this process may use (None: no
    pinning possible or useful, e.g. one CPU or no ``sched_setaffinity``)."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    return allowed[-1] if len(allowed) > 1 else None


def run_child(
    argv: Sequence[str], *, cwd: Path, timeout: float, what: str, cpu: int | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python argv...`` (pinned to ``cpu`` if given) and return it; raise
    :class:`MeasurementError` on failure."""
    proc = subprocess.Popen(
        [sys.executable, *argv],
        cwd=cwd,
        env=child_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    if cpu is not None:
        # Set from here, right after the exec: the interpreter needs milliseconds to start, so
        # no thread of the child exists yet and all of them inherit the mask. (preexec_fn is
        # unsafe in a parent with threads, and rich's progress bar runs one.)
        with contextlib.suppress(OSError):
            os.sched_setaffinity(proc.pid, {cpu})
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid)
        proc.communicate()
        raise MeasurementError(f"{what}: timed out after {timeout:.0f} s") from None
    except BaseException:  # Ctrl-C: do not leave the child running
        _kill_group(proc.pid)
        proc.wait()
        raise
    _kill_group(proc.pid)
    done = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    if proc.returncode != 0:
        raise MeasurementError(f"{what}: exited with {proc.returncode}: {_tail(out, err)}")
    return done


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _tail(out: str, err: str) -> str:
    """The line that says what went wrong: pytest's last ``E`` line, else the last line of
    stderr (a traceback's exception), else of stdout."""
    errors = [line[1:].strip() for line in out.splitlines() if line.startswith("E ")]
    if errors:
        return errors[-1]
    for text in (err, out):
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if lines:
            return lines[-1]
    return "no output"
