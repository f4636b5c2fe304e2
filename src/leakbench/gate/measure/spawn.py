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
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

from leakbench._util.signals import deferred_signals

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


_RUNNING: set[int] = set()
"""Process groups of the children running now (several when passes run on other threads)."""
_RUNNING_LOCK = threading.Lock()


def kill_running() -> None:
    """Kill every measurement child running now, whichever thread started it (a Ctrl-C in
    the main thread must not wait for a pass running on another thread to finish)."""
    with _RUNNING_LOCK:
        groups = list(_RUNNING)
    for pgid in groups:
        _kill_group(pgid)


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment with hashing pinned and allocator/xdist switches removed,
    then ``extra`` (a side's ``PYTHONPATH``, given per call so that threads need not share
    ``os.environ``)."""
    env = {k: v for k, v in os.environ.items() if k not in _DROP}
    env.update(extra or {})
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


During = Callable[["subprocess.Popen[str]", float], None]
"""``during(proc, deadline)``: talk to a running child (the instruction pass's handshake)
before it is waited for; ``deadline`` is the ``time.monotonic()`` the timeout ends at."""


def run_child(
    argv: Sequence[str],
    *,
    cwd: Path,
    timeout: float,
    what: str,
    cpu: int | None = None,
    prefix: Sequence[str] = (),
    pass_fds: Sequence[int] = (),
    during: During | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``prefix... python argv...`` (pinned to ``cpu`` if given) and return it; raise
    :class:`MeasurementError` on failure.

    ``prefix`` wraps the interpreter (``valgrind --tool=callgrind ...``), ``pass_fds`` stay
    open in the child, and ``during`` runs while the child does; with ``during`` the child's
    output goes to temporary files, so that a chatty child cannot fill a pipe nobody reads.
    ``env`` is added to the child's environment (:func:`child_env`).
    """
    with contextlib.ExitStack() as stack:
        files: tuple[IO[str], IO[str]] | None = None
        if during is not None:
            files = (
                stack.enter_context(tempfile.TemporaryFile("w+", encoding="utf-8")),
                stack.enter_context(tempfile.TemporaryFile("w+", encoding="utf-8")),
            )
        # Started with signals held: a Ctrl-C between the fork and the ``try`` below would
        # otherwise leave the child (in its own session) running after this process ends.
        with deferred_signals() as held:
            proc = subprocess.Popen(
                [*prefix, sys.executable, *argv],
                cwd=cwd,
                env=child_env(env),
                stdin=subprocess.DEVNULL,
                stdout=files[0] if files else subprocess.PIPE,
                stderr=files[1] if files else subprocess.PIPE,
                text=True,
                start_new_session=True,
                pass_fds=tuple(pass_fds),
            )
            with _RUNNING_LOCK:
                _RUNNING.add(proc.pid)
            if cpu is not None:
                # Set from here, right after the exec: the interpreter needs milliseconds to start,
                # so no thread of the child exists yet and all of them inherit the mask. (preexec_fn
                # is unsafe in a parent with threads, and rich's progress bar runs one.)
                with contextlib.suppress(OSError):
                    os.sched_setaffinity(proc.pid, {cpu})
            if held:  # interrupted while starting: end the child, then deliver it
                _kill_group(proc.pid)
                proc.wait()
                with _RUNNING_LOCK:
                    _RUNNING.discard(proc.pid)
        deadline = time.monotonic() + timeout
        try:
            if during is not None:
                during(proc, deadline)
            out, err = proc.communicate(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            proc.communicate()
            raise MeasurementError(f"{what}: timed out after {timeout:.0f} s") from None
        except MeasurementError as exc:  # a failed handshake: say what the child said
            _kill_group(proc.pid)
            proc.wait()
            said = _tail(_contents(files[0]), _contents(files[1])) if files else "no output"
            if said != "no output":
                raise type(exc)(f"{exc} ({said})") from None
            raise
        except BaseException:  # Ctrl-C: do not leave the child running
            _kill_group(proc.pid)
            proc.wait()
            raise
        finally:
            with _RUNNING_LOCK:
                _RUNNING.discard(proc.pid)
        _kill_group(proc.pid)
        if files is not None:
            out, err = _contents(files[0]), _contents(files[1])
    done = subprocess.CompletedProcess(proc.args, proc.returncode, out or "", err or "")
    if proc.returncode != 0:
        raise MeasurementError(
            f"{what}: exited with {proc.returncode}: {_tail(done.stdout, done.stderr)}"
        )
    return done


def _contents(file: IO[str]) -> str:
    file.seek(0)
    return file.read()


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
