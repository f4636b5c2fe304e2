"""The instruction pass: CPU instructions per iteration, counted under Valgrind's callgrind.

Why instructions: wall time on a shared machine moves 40-140% between runs (FIELD-NOTES), and
no statistic makes a stored baseline comparable across load regimes. The number of
instructions a scenario executes does not depend on the load: it is the measure CodSpeed
uses for the same reason. Hardware counters (``perf_event_open``) are not available on these
machines nor on most CI runners; Valgrind is (Debian package ``valgrind``).

How, in one fresh process per scenario (both halves live here, like
``leakbench.gate.measure.child``):

1. The parent starts the measurement child (mode ``instructions``) under
   ``valgrind --tool=callgrind --instr-atstart=no`` with ``PYTHONHASHSEED=0``
   (``spawn.child_env``), so start-up, imports and the scenario's warm-up run uninstrumented
   (about 25x slower than native instead of 50-100x) and count nothing.
2. The child enters the scenario's session, runs the warm-up iterations, ``gc.collect()``,
   writes ``ready`` on a pipe and blocks reading the other pipe.
3. The parent runs ``callgrind_control --instr=on PID`` (Valgrind's vgdb reaches the blocked
   process through ptrace; Valgrind itself allows that with ``PR_SET_PTRACER``) and writes
   ``go``. The counters are still 0: nothing was counted while instrumentation was off.
4. The child runs N iterations, writes ``done`` and blocks again; the parent runs
   ``callgrind_control --instr=off PID`` and writes ``go``; the child writes its answer (not
   counted) and exits. Valgrind's log line ``Collected : X`` is then exactly the instructions
   of the N iterations plus the handshake's own few thousand (the return from ``read`` and
   the ``write``; ~5,000 here, the same on both sides of any comparison).
5. ``instructions per iteration = X / N``.

Measured on this machine (Valgrind 3.19): ``locator.clean`` 10 iterations gave 1,352,231
instructions in three fresh processes, 20 iterations 2,639,154; each ``callgrind_control``
call costs ~0.25 s. The count of a fixed N repeats to the instruction for single-threaded
code; the per-iteration average of a different N differs a little (first iterations after a
warm-up are dearer, garbage collections fall differently), so N is fixed per scenario
(``Scenario.instruction_iterations``) and figures of different N are not compared.

What is counted:

- **Threads**: Valgrind runs all threads of the process serialised on one lock and callgrind
  counts every thread's instructions while instrumentation is on: work a scenario hands to
  a thread pool or a server thread of the same process is counted; so is a background
  thread's polling that happens to fall inside the window, which is why scenarios with
  timer-driven threads (a loopback server's poll, chromadb's runtime) repeat to ~0.3-1%
  rather than exactly (``bench/instructions_repeatability.py``).
- **Child processes**: not counted. Without ``--trace-children=yes`` an ``exec``'d program
  (``git`` in ``subprocesses.*``) runs natively; the scenario's own side (fork, pipes,
  ``wait``) is counted. A forked child still under Valgrind counts into its own files.
- **Waiting**: sleeping, blocking I/O and lock waits execute no instructions; that is what
  wall time (``leakbench.gate.measure.timing``) is still measured for.
"""

from __future__ import annotations

import contextlib
import gc
import os
import re
import select
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from leakbench.gate.measure.spawn import MeasurementError
from leakbench.gate.results import InstructionsResult

__all__ = [
    "INSTALL_HINT",
    "TOOL",
    "Callgrind",
    "InstrumentError",
    "Valgrind",
    "absent",
    "count_iterations",
    "find_valgrind",
    "missing",
    "result_of",
]

TOOL = "callgrind"
INSTALL_HINT = "apt-get install valgrind"
CONTROL_TIMEOUT = 30.0
"""Seconds one ``callgrind_control`` call may take (it takes ~0.25 s)."""


class InstrumentError(MeasurementError):
    """``callgrind_control`` could not reach the process (no ptrace, vgdb broken): every
    later pass would fail the same way, so the run stops trying (``child`` remembers it)."""


_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


@dataclass(frozen=True)
class Valgrind:
    """The installed Valgrind: its launcher, ``callgrind_control`` and version."""

    valgrind: str
    control: str
    version: str
    """``valgrind --version``, e.g. ``valgrind-3.19.0``."""


@cache
def find_valgrind() -> Valgrind | None:
    """The installed Valgrind, or None when ``valgrind`` or ``callgrind_control`` is missing
    or does not run (see :func:`missing` for the one-line reason)."""
    valgrind = shutil.which("valgrind")
    control = shutil.which("callgrind_control")
    if valgrind is None or control is None:
        return None
    try:
        done = subprocess.run(
            [valgrind, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    version = done.stdout.strip()
    if done.returncode != 0 or not version:
        return None
    return Valgrind(valgrind, control, version)


def missing() -> str:
    """Why there is no instruction count here, with the install command (one line)."""
    if shutil.which("valgrind") is None:
        return f"valgrind is not installed (install it: {INSTALL_HINT})"
    if shutil.which("callgrind_control") is None:
        return f"callgrind_control is not installed (install Valgrind fully: {INSTALL_HINT})"
    return f"valgrind --version failed (reinstall it: {INSTALL_HINT})"


# --------------------------------------------------------------------------- parent side


class Callgrind:
    """The parent side of one instruction pass: the Valgrind command line, the pipes, and the
    handshake that switches instrumentation on and off around the child's N iterations.

    ``leakbench.gate.measure.child.run_in_child`` takes one as ``under``: it adds
    :meth:`config` to the child's config, starts ``prefix(scratch) + [python, ...]`` with
    :attr:`pass_fds`, calls :meth:`drive` while the child runs and :meth:`finish` on the
    child's answer.
    """

    def __init__(self, tool: Valgrind, what: str) -> None:
        self.tool = tool
        self.what = what
        self._ready_r, self._ready_w = os.pipe()  # child -> parent: "ready", "done"
        self._go_r, self._go_w = os.pipe()  # parent -> child: "go"
        self._buffer = b""
        self.pid = 0
        """The Valgrind process's pid, once :meth:`drive` runs (the log file is named by it)."""

    @property
    def pass_fds(self) -> tuple[int, ...]:
        """The child's ends of the two pipes."""
        return (self._ready_w, self._go_r)

    def config(self) -> dict[str, Any]:
        """What the child needs to find its pipe ends."""
        return {"ready_fd": self._ready_w, "go_fd": self._go_r}

    def prefix(self, scratch: Path) -> list[str]:
        """``valgrind --tool=callgrind ...`` with its files in ``scratch``."""
        return [
            self.tool.valgrind,
            f"--tool={TOOL}",
            "--instr-atstart=no",
            f"--callgrind-out-file={scratch / 'callgrind.out.%p'}",
            f"--log-file={scratch / 'valgrind.%p.log'}",
        ]

    def drive(self, proc: subprocess.Popen[str], deadline: float) -> None:
        """The handshake: wait for ``ready``, instrumentation on, ``go``; wait for ``done``,
        instrumentation off, ``go``. Raises :class:`MeasurementError` when the child dies,
        stalls past ``deadline`` or ``callgrind_control`` fails."""
        self.pid = proc.pid
        self._close_child_ends()
        self._expect("ready", proc, deadline)
        self._control(proc.pid, "on", deadline)
        os.write(self._go_w, b"go\n")
        self._expect("done", proc, deadline)
        self._control(proc.pid, "off", deadline)
        os.write(self._go_w, b"go\n")

    def finish(self, answer: dict[str, Any], scratch: Path) -> dict[str, Any]:
        """The child's answer with ``total``: the instructions Valgrind collected."""
        log = scratch / f"valgrind.{self.pid}.log"
        try:
            found = _COLLECTED.findall(log.read_text(encoding="utf-8", errors="replace"))
        except OSError as exc:
            raise MeasurementError(f"{self.what}: no Valgrind log ({exc})") from None
        if not found:
            raise MeasurementError(f"{self.what}: Valgrind reported no instruction count")
        return {**answer, "total": int(found[-1])}

    def close(self) -> None:
        """Close every pipe end still open (idempotent: each end is closed once, since a
        closed descriptor number is soon another thread's file)."""
        self._ready_r = _close(self._ready_r)
        self._ready_w = _close(self._ready_w)
        self._go_r = _close(self._go_r)
        self._go_w = _close(self._go_w)

    def _close_child_ends(self) -> None:
        self._ready_w = _close(self._ready_w)
        self._go_r = _close(self._go_r)

    def _expect(self, word: str, proc: subprocess.Popen[str], deadline: float) -> None:
        """Read one line from the child; it must be ``word``."""
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise MeasurementError(f"{self.what}: timed out waiting for {word!r}")
            ready, _, _ = select.select([self._ready_r], [], [], min(left, 1.0))
            if not ready:
                continue
            chunk = os.read(self._ready_r, 64)
            if not chunk:
                code = proc.wait()
                raise MeasurementError(
                    f"{self.what}: the child exited ({code}) before it was {word}"
                )
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        if line.decode(errors="replace") != word:
            raise MeasurementError(f"{self.what}: expected {word!r} from the child, got {line!r}")

    def _control(self, pid: int, state: str, deadline: float) -> None:
        timeout = max(1.0, min(CONTROL_TIMEOUT, deadline - time.monotonic()))
        argv = [self.tool.control, f"--instr={state}", str(pid)]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise InstrumentError(
                f"{self.what}: callgrind_control --instr={state} timed out after {timeout:.0f} s"
            ) from None
        except OSError as exc:
            raise InstrumentError(f"{self.what}: cannot run callgrind_control ({exc})") from None
        if done.returncode != 0 or "Error" in done.stdout:
            lines = (done.stdout.strip() or done.stderr.strip() or "failed").splitlines()
            raise InstrumentError(f"{self.what}: callgrind_control --instr={state}: {lines[0]}")


def _close(fd: int) -> int:
    """Close ``fd`` unless it is already closed (-1); return -1."""
    if fd >= 0:
        with contextlib.suppress(OSError):
            os.close(fd)
    return -1


def result_of(
    answer: Mapping[str, Any], tool: Valgrind, seconds: float, what: str
) -> InstructionsResult:
    """The :class:`InstructionsResult` of a child's answer completed by :meth:`Callgrind.finish`."""
    try:
        total = int(answer["total"])
        n = int(answer["iterations"])
        warmup = int(answer["warmup"])
    except (KeyError, TypeError, ValueError) as exc:
        raise MeasurementError(f"{what}: unexpected answer ({exc!r})") from None
    if n < 1 or total < 0:
        raise MeasurementError(f"{what}: unexpected answer ({n} iterations, {total} instructions)")
    return InstructionsResult(
        per_iteration=total / n,
        iterations=n,
        warmup_iterations=warmup,
        total=total,
        tool=TOOL,
        tool_version=tool.version,
        seconds=round(seconds, 3),
    )


def absent(reason: str, iterations: int, warmup: int, seconds: float = 0.0) -> InstructionsResult:
    """An instruction pass that gave no figure, and why (one line)."""
    version = find_valgrind()
    return InstructionsResult(
        per_iteration=None,
        iterations=max(1, iterations),
        warmup_iterations=warmup,
        tool=TOOL,
        tool_version=version.version if version else "",
        seconds=round(seconds, 3),
        reason=" ".join(reason.split()) or "no instruction count",
    )


# --------------------------------------------------------------------------- child side


def count_iterations(
    iteration: Callable[[], None], iterations: int, warmup: int, ready_fd: int, go_fd: int
) -> dict[str, Any]:
    """Child side: warm up, then run ``iterations`` iterations between two handshakes (the
    parent switches instrumentation on after ``ready`` and off after ``done``)."""
    for _ in range(warmup):
        iteration()
    gc.collect()
    _say(ready_fd, b"ready\n")
    _wait(go_fd)
    for _ in range(iterations):
        iteration()
    _say(ready_fd, b"done\n")
    _wait(go_fd)
    return {"iterations": iterations, "warmup": warmup}


def _say(fd: int, line: bytes) -> None:
    os.write(fd, line)


def _wait(fd: int) -> None:
    if not os.read(fd, 16):
        raise RuntimeError("the parent closed the instruction pass's pipe")
