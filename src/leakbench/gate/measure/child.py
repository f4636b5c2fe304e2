"""The one measurement child: ``python -m leakbench.gate.measure.child CONFIG_JSON``.

Every measurement runs in a fresh process (why: ``leakbench.gate.measure.spawn``). This
module holds both halves of that process's protocol, so that what the parent sends and what
the child answers are read side by side:

- Parent side: :func:`run_in_child` starts the child through ``spawn.run_child`` (pinned to
  a CPU, in its own session, whatever is left of its process group killed afterwards, a
  timeout, every failure a :class:`~leakbench.gate.measure.spawn.MeasurementError`) and
  returns the child's decoded answer. One typed call per mode wraps it:
  :func:`run_memory_pass`, :func:`run_instruction_pass`, :func:`run_time_pass`,
  :func:`run_pair_process`, :func:`list_scenarios`. The instruction pass's child runs under
  Valgrind and is driven while it runs (``under``: a
  :class:`~leakbench.gate.measure.instructions.Callgrind`).
- Child side: :func:`main` runs the config's mode and writes the answer as JSON to the file
  the parent named, inside the parent's temporary directory; the mode's scratch files (an
  unkept memray capture, the generated pytest-benchmark module) go there too, so they go
  when it goes. A file rather than stdout, so that whatever a scenario prints cannot garble
  the answer. The child ends with ``os._exit``, so that threads a leaky scenario left running
  cannot keep it alive.

The modes:

- ``memory``: the memray pass (``leakbench.gate.measure.memory``), a ``MemoryResult``.
- ``instructions``: under callgrind, warm up, then N iterations between two handshakes with
  the parent, which switches instrumentation on and off around them
  (``leakbench.gate.measure.instructions``), an ``InstructionsResult``.
- ``time``: the pytest-benchmark pass with the interleaved reference
  (``leakbench.gate.measure.timing.run_benchmark``), a ``TimeResult``.
- ``pair-time``: one process of an ABBA pair (``leakbench compare-branches``): warm up,
  calibrate unless a plan is given (``leakbench.gate.measure.plan``), time plain rounds, and
  the process CPU time of each (how much of the wall time is waiting).
- ``list``: the scenarios of a suites package, so that compare-branches imports each side's
  suites only in that side's own process.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from leakbench._util.atomic import write_json_atomic
from leakbench._util.signals import deferred_signals
from leakbench.gate.measure import instructions
from leakbench.gate.measure.plan import (
    CLEAN_TIME_ITERATIONS,
    DEFAULT_BUDGET,
    PAIR_BUDGET,
    Plan,
    calibrate,
    time_iterations_for,
)
from leakbench.gate.measure.spawn import MeasurementError, run_child
from leakbench.gate.measure.timing import run_benchmark, time_rounds
from leakbench.gate.results import (
    InstructionsResult,
    MemoryResult,
    ResultsError,
    TimeResult,
    memory_from_dict,
    time_from_dict,
)
from leakbench.gate.scenarios import (
    DEFAULT_INSTRUCTION_ITERATIONS,
    Scenario,
    discover,
    find,
    instruction_iterations_for,
    module_of,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "DEFAULT_WARMUP",
    "Mode",
    "PairProcess",
    "ScenarioInfo",
    "list_scenarios",
    "main",
    "run_in_child",
    "run_instruction_pass",
    "run_memory_pass",
    "run_pair_process",
    "run_time_pass",
]

CHILD_MODULE = "leakbench.gate.measure.child"
DEFAULT_WARMUP = 2
"""Untracked iterations before the memory pass tracks: first calls fill caches (10-20% more)."""
DEFAULT_TIMEOUT = 300.0
"""Seconds before a measurement child is killed."""
_BROKEN_INSTRUMENT = ""
"""Why callgrind_control cannot reach a process here, once a pass found out ("" until then):
later passes give no figure at once instead of each waiting for the same failure."""

Mode = Literal["memory", "instructions", "time", "pair-time", "list"]
T = TypeVar("T")


@dataclass(frozen=True)
class ScenarioInfo:
    """What a parent needs of a scenario whose suites it never imports (``list`` mode)."""

    leak_class: str
    variant: str
    leaks_memory: bool
    bench_iterations: int
    instruction_iterations: int = DEFAULT_INSTRUCTION_ITERATIONS
    module: str | None = None
    """The module defining it (``scenarios.module_of``), for the instruction pass."""


@dataclass(frozen=True)
class PairProcess:
    """What one ``pair-time`` process measured."""

    rounds: list[float]
    """Seconds per iteration of each round."""
    plan: Plan
    cpu_rounds: list[float]
    """Process CPU seconds (all threads) per iteration of each round; [] when unknown."""


# --------------------------------------------------------------------------- parent side


def run_in_child(
    mode: Mode,
    config: Mapping[str, Any],
    decode: Callable[[dict[str, Any]], T],
    *,
    root: Path,
    timeout: float,
    what: str,
    cpu: int | None = None,
    under: instructions.Callgrind | None = None,
    env: Mapping[str, str] | None = None,
) -> T:
    """Run ``mode`` with ``config`` in a fresh child (cwd ``root``) and return its answer,
    decoded by ``decode``.

    ``what`` names the measurement in every :class:`MeasurementError` ("memory pass of x"):
    a child that fails, hangs or writes no answer, and an answer ``decode`` rejects.
    ``under`` runs the child under Valgrind and drives its handshake (the instruction pass);
    ``env`` is added to the child's environment.
    """
    # The scratch folder says which run it belongs to (``leakbench-child-<parent pid>-``).
    # It is made inside the ``try`` with signals held (a Ctrl-C right after ``mkdtemp`` is
    # delivered once ``scratch`` is set) and removed with them held (a second one cannot stop
    # the removal), so an interrupt at any moment leaves no folder behind.
    scratch: Path | None = None
    try:
        with deferred_signals():
            scratch = Path(tempfile.mkdtemp(prefix=f"leakbench-child-{os.getpid()}-"))
        out = scratch / "answer.json"
        sent = {**config, "mode": mode, "root": str(root), "out": str(out)}
        if under is not None:
            sent |= under.config()
        try:
            run_child(
                ["-m", CHILD_MODULE, json.dumps(sent)],
                cwd=root,
                timeout=timeout,
                what=what,
                cpu=cpu,
                prefix=under.prefix(scratch) if under else (),
                pass_fds=under.pass_fds if under else (),
                during=under.drive if under else None,
                env=env,
            )
        finally:
            if under is not None:
                under.close()
        try:
            answer = json.loads(out.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise MeasurementError(f"{what}: no result written ({exc})") from None
        if under is not None and isinstance(answer, dict):
            answer = under.finish(answer, scratch)
    finally:
        if scratch is not None:
            with deferred_signals():
                shutil.rmtree(scratch, ignore_errors=True)
    try:
        if not isinstance(answer, dict):
            raise TypeError("the answer is not a JSON object")
        return decode(answer)
    except ResultsError as exc:
        raise MeasurementError(f"{what}: unexpected answer ({exc.problem})") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise MeasurementError(f"{what}: unexpected answer ({exc!r})") from None


def run_memory_pass(
    name: str,
    *,
    suites: str,
    root: Path,
    iterations: int,
    capture: Path | None,
    warmup: int = DEFAULT_WARMUP,
    timeout: float = DEFAULT_TIMEOUT,
    cpu: int | None = None,
    env: Mapping[str, str] | None = None,
) -> MemoryResult:
    """Measure scenario ``name`` under memray; ``capture=None`` keeps no capture file;
    ``env`` is added to the child's environment."""
    what = f"memory pass of {name}"
    config = {
        "scenario": name,
        "suites": suites,
        "iterations": iterations,
        "warmup": warmup,
        "capture": None if capture is None else str(capture),
    }
    return run_in_child(
        "memory",
        config,
        lambda a: _memory_answer(a, what),
        root=root,
        timeout=timeout,
        what=what,
        cpu=cpu,
        env=env,
    )


def _memory_answer(answer: dict[str, Any], what: str) -> MemoryResult:
    """The memory pass's figures, or its one-line reason (an incomplete capture) raised as a
    :class:`MeasurementError`, like any other failed pass."""
    if "error" in answer:
        raise MeasurementError(f"{what}: {answer['error']}")
    return memory_from_dict(answer, what)


def run_instruction_pass(
    name: str,
    *,
    suites: str,
    root: Path,
    iterations: int,
    warmup: int = DEFAULT_WARMUP,
    timeout: float = DEFAULT_TIMEOUT,
    module: str | None = None,
    env: Mapping[str, str] | None = None,
) -> InstructionsResult:
    """Count scenario ``name``'s instructions per iteration under callgrind.

    Never raises for a measurement problem: Valgrind missing, a crash, a kill or a timeout
    gives a result without a figure whose ``reason`` says why in one line, so that a broken
    instrument costs that figure and nothing else. Not pinned to a CPU: counts do not depend
    on where the process runs, and on a busy machine a free core finishes sooner. ``module``
    (``scenarios.module_of``) lets the child import only the module defining the scenario;
    ``env`` is added to its environment (safe from several threads at once).
    """
    global _BROKEN_INSTRUMENT
    what = f"instruction pass of {name}"
    tool = instructions.find_valgrind()
    if tool is None:
        return instructions.absent(instructions.missing(), iterations, warmup)
    if _BROKEN_INSTRUMENT:
        return instructions.absent(f"not tried: {_BROKEN_INSTRUMENT}", iterations, warmup)
    config = {
        "scenario": name,
        "suites": suites,
        "module": module,
        "iterations": iterations,
        "warmup": warmup,
    }
    start = time.monotonic()
    try:
        return run_in_child(
            "instructions",
            config,
            lambda a: instructions.result_of(a, tool, time.monotonic() - start, what),
            root=root,
            timeout=timeout,
            what=what,
            under=instructions.Callgrind(tool, what),
            env=env,
        )
    except instructions.InstrumentError as exc:
        _BROKEN_INSTRUMENT = f"an earlier pass found callgrind_control unusable ({exc})"
        return instructions.absent(str(exc), iterations, warmup, time.monotonic() - start)
    except MeasurementError as exc:
        return instructions.absent(str(exc), iterations, warmup, time.monotonic() - start)


def run_time_pass(
    name: str,
    *,
    suites: str,
    root: Path,
    budget: float = DEFAULT_BUDGET,
    max_iterations: int = CLEAN_TIME_ITERATIONS,
    plan: Plan | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    cpu: int | None = None,
) -> TimeResult:
    """Time scenario ``name`` under pytest-benchmark (never under xdist).

    ``plan`` (``plan.plan_of`` of an earlier process) skips calibration, so that the
    processes of one scenario run the same rounds and can be pooled (``timing.pool``)."""
    what = f"time pass of {name}"
    config = {
        "scenario": name,
        "suites": suites,
        "budget": budget,
        "max_iterations": max_iterations,
        "plan": None if plan is None else asdict(plan),
    }
    return run_in_child(
        "time",
        config,
        lambda a: time_from_dict(a, what),
        root=root,
        timeout=timeout,
        what=what,
        cpu=cpu,
    )


def run_pair_process(
    name: str,
    *,
    suites: str,
    root: Path,
    plan: Plan | None,
    what: str = "",
    timeout: float = DEFAULT_TIMEOUT,
    cpu: int | None = None,
    env: Mapping[str, str] | None = None,
) -> PairProcess:
    """One ABBA pair process: seconds per iteration of each round, the plan it ran
    (``plan=None``: the child calibrates, and the parent reuses its plan for every pair) and
    the CPU seconds of each round."""
    what = what or f"time pair of {name}"
    config = {
        "scenario": name,
        "suites": suites,
        "plan": None if plan is None else asdict(plan),
    }
    return run_in_child(
        "pair-time", config, _pair_answer, root=root, timeout=timeout, what=what, cpu=cpu, env=env
    )


def _pair_answer(answer: dict[str, Any]) -> PairProcess:
    rounds = [float(x) for x in answer["rounds"]]
    cpu = [float(x) for x in answer.get("cpu_rounds", [])]
    if cpu and len(cpu) != len(rounds):
        raise ValueError(f"{len(rounds)} rounds but {len(cpu)} CPU times")
    return PairProcess(rounds, Plan(**answer["plan"]), cpu)


def list_scenarios(
    *,
    suites: str,
    root: Path,
    what: str,
    timeout: float = DEFAULT_TIMEOUT,
    env: Mapping[str, str] | None = None,
) -> dict[str, ScenarioInfo]:
    """The scenarios ``suites`` defines under ``root``, by name (imported in the child only)."""
    return run_in_child(
        "list", {"suites": suites}, _list_answer, root=root, timeout=timeout, what=what, env=env
    )


def _list_answer(answer: dict[str, Any]) -> dict[str, ScenarioInfo]:
    return {name: ScenarioInfo(**info) for name, info in answer["scenarios"].items()}


# --------------------------------------------------------------------------- child side


def _scenario(config: Mapping[str, Any]) -> Scenario:
    return find(config["suites"], config["scenario"], Path(config["root"]), config.get("module"))


def _memory(config: Mapping[str, Any], scratch: Path) -> dict[str, Any]:
    # Imported here: the parent imports this module too, and must never load memray.
    from leakbench.gate.measure.memory import CaptureError, measure

    keep = config["capture"] is not None
    with _scenario(config).session() as iteration:
        try:
            result = measure(
                iteration,
                iterations=int(config["iterations"]),
                warmup=int(config["warmup"]),
                capture=Path(config["capture"]) if keep else scratch / "capture.bin",
                root=Path(config["root"]),
                keep_capture=keep,
            )
        except CaptureError as exc:  # a one-line reason for the parent, never the numbers
            return {"error": str(exc)}
    return asdict(result)


def _instructions(config: Mapping[str, Any], scratch: Path) -> dict[str, Any]:
    with _scenario(config).session() as iteration:
        return instructions.count_iterations(
            iteration,
            int(config["iterations"]),
            int(config["warmup"]),
            int(config["ready_fd"]),
            int(config["go_fd"]),
        )


def _time(config: Mapping[str, Any], scratch: Path) -> dict[str, Any]:
    return asdict(run_benchmark(dict(config), scratch))


def _pair_time(config: Mapping[str, Any], scratch: Path) -> dict[str, Any]:
    scenario = _scenario(config)
    with scenario.session() as iteration:
        iteration()  # warm-up: first calls fill caches, and a given plan has no pilot calls
        if config.get("plan"):
            plan = Plan(**config["plan"])
        else:
            cap = time_iterations_for(scenario)
            plan = calibrate(iteration, PAIR_BUDGET, cap, reference=False)
        gc.collect()
        rounds, cpu = time_rounds(iteration, plan)
    return {"rounds": rounds, "cpu_rounds": cpu, "plan": asdict(plan)}


def _list(config: Mapping[str, Any], scratch: Path) -> dict[str, Any]:
    found = discover(config["suites"], Path(config["root"]))
    return {
        "scenarios": {
            name: asdict(
                ScenarioInfo(
                    s.leak_class,
                    s.variant,
                    s.leaks_memory,
                    s.bench_iterations,
                    instruction_iterations_for(s),
                    module_of(s),
                )
            )
            for name, s in found.items()
        }
    }


MODES: dict[str, Callable[[Mapping[str, Any], Path], dict[str, Any]]] = {
    "memory": _memory,
    "instructions": _instructions,
    "time": _time,
    "pair-time": _pair_time,
    "list": _list,
}
"""Each :data:`Mode`'s child-side handler: ``(config, scratch directory) -> answer``."""


def main(argv: list[str] | None = None) -> None:
    """Child entry point: write the answer and exit 0; print a traceback and exit 1 otherwise."""
    args = sys.argv[1:] if argv is None else argv
    code = 1
    try:
        config = json.loads(args[0])
        out = Path(config["out"])
        write_json_atomic(out, MODES[config["mode"]](config, out.parent))
        code = 0
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    main()
