"""The one measurement child: ``python -m leakbench.gate.measure.child CONFIG_JSON``.

Every measurement runs in a fresh process (why: ``leakbench.gate.measure.spawn``). This
module holds both halves of that process's protocol, so that what the parent sends and what
the child answers are read side by side:

- Parent side: :func:`run_in_child` starts the child through ``spawn.run_child`` (pinned to
  a CPU, in its own session, whatever is left of its process group killed afterwards, a
  timeout, every failure a :class:`~leakbench.gate.measure.spawn.MeasurementError`) and
  returns the child's decoded answer. One typed call per mode wraps it:
  :func:`run_memory_pass`, :func:`run_time_pass`, :func:`run_pair_process`,
  :func:`list_scenarios`.
- Child side: :func:`main` runs the config's mode and writes the answer as JSON to the file
  the parent named, inside the parent's temporary directory; the mode's scratch files (an
  unkept memray capture, the generated pytest-benchmark module) go there too, so they go
  when it goes. A file rather than stdout, so that whatever a scenario prints cannot garble
  the answer. The child ends with ``os._exit``, so that threads a leaky scenario left running
  cannot keep it alive.

The modes:

- ``memory``: the memray pass (``leakbench.gate.measure.memory``), a ``MemoryResult``.
- ``time``: the pytest-benchmark pass with the interleaved reference
  (``leakbench.gate.measure.timing.run_benchmark``), a ``TimeResult``.
- ``pair-time``: one process of an ABBA pair (``leakbench compare-branches``): warm up,
  calibrate unless a plan is given (``leakbench.gate.measure.plan``), time plain rounds.
- ``list``: the scenarios of a suites package, so that compare-branches imports each side's
  suites only in that side's own process.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import tempfile
import traceback
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from leakbench._util.atomic import write_json_atomic
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
    MemoryResult,
    ResultsError,
    TimeResult,
    memory_from_dict,
    time_from_dict,
)
from leakbench.gate.scenarios import Scenario, discover

__all__ = [
    "DEFAULT_TIMEOUT",
    "DEFAULT_WARMUP",
    "Mode",
    "ScenarioInfo",
    "list_scenarios",
    "main",
    "run_in_child",
    "run_memory_pass",
    "run_pair_process",
    "run_time_pass",
]

CHILD_MODULE = "leakbench.gate.measure.child"
DEFAULT_WARMUP = 2
"""Untracked iterations before the memory pass tracks: first calls fill caches (10-20% more)."""
DEFAULT_TIMEOUT = 300.0
"""Seconds before a measurement child is killed."""

Mode = Literal["memory", "time", "pair-time", "list"]
T = TypeVar("T")


@dataclass(frozen=True)
class ScenarioInfo:
    """What a parent needs of a scenario whose suites it never imports (``list`` mode)."""

    leak_class: str
    variant: str
    leaks_memory: bool
    bench_iterations: int


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
) -> T:
    """Run ``mode`` with ``config`` in a fresh child (cwd ``root``) and return its answer,
    decoded by ``decode``.

    ``what`` names the measurement in every :class:`MeasurementError` ("memory pass of x"):
    a child that fails, hangs or writes no answer, and an answer ``decode`` rejects.
    """
    with tempfile.TemporaryDirectory(prefix="leakbench-child-") as tmp:
        out = Path(tmp) / "answer.json"
        sent = {**config, "mode": mode, "root": str(root), "out": str(out)}
        run_child(
            ["-m", CHILD_MODULE, json.dumps(sent)], cwd=root, timeout=timeout, what=what, cpu=cpu
        )
        try:
            answer = json.loads(out.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise MeasurementError(f"{what}: no result written ({exc})") from None
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
) -> MemoryResult:
    """Measure scenario ``name`` under memray; ``capture=None`` keeps no capture file."""
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
        lambda a: memory_from_dict(a, what),
        root=root,
        timeout=timeout,
        what=what,
        cpu=cpu,
    )


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
) -> tuple[list[float], Plan]:
    """One ABBA pair process: seconds per iteration of each round, and the plan it ran
    (``plan=None``: the child calibrates, and the parent reuses its plan for every pair)."""
    what = what or f"time pair of {name}"
    config = {
        "scenario": name,
        "suites": suites,
        "plan": None if plan is None else asdict(plan),
    }
    return run_in_child(
        "pair-time", config, _pair_answer, root=root, timeout=timeout, what=what, cpu=cpu
    )


def _pair_answer(answer: dict[str, Any]) -> tuple[list[float], Plan]:
    return [float(x) for x in answer["rounds"]], Plan(**answer["plan"])


def list_scenarios(
    *, suites: str, root: Path, what: str, timeout: float = DEFAULT_TIMEOUT
) -> dict[str, ScenarioInfo]:
    """The scenarios ``suites`` defines under ``root``, by name (imported in the child only)."""
    return run_in_child(
        "list", {"suites": suites}, _list_answer, root=root, timeout=timeout, what=what
    )


def _list_answer(answer: dict[str, Any]) -> dict[str, ScenarioInfo]:
    return {name: ScenarioInfo(**info) for name, info in answer["scenarios"].items()}


# --------------------------------------------------------------------------- child side


def _scenario(config: Mapping[str, Any]) -> Scenario:
    return discover(config["suites"], Path(config["root"]))[config["scenario"]]


def _memory(config: Mapping[str, Any], scratch: Path) -> dict[str, Any]:
    # Imported here: the parent imports this module too, and must never load memray.
    from leakbench.gate.measure.memory import measure

    keep = config["capture"] is not None
    with _scenario(config).session() as iteration:
        result = measure(
            iteration,
            iterations=int(config["iterations"]),
            warmup=int(config["warmup"]),
            capture=Path(config["capture"]) if keep else scratch / "capture.bin",
            root=Path(config["root"]),
            keep_capture=keep,
        )
    return asdict(result)


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
        rounds = time_rounds(iteration, plan)
    return {"rounds": rounds, "plan": asdict(plan)}


def _list(config: Mapping[str, Any], scratch: Path) -> dict[str, Any]:
    found = discover(config["suites"], Path(config["root"]))
    return {
        "scenarios": {
            name: asdict(ScenarioInfo(s.leak_class, s.variant, s.leaks_memory, s.bench_iterations))
            for name, s in found.items()
        }
    }


MODES: dict[str, Callable[[Mapping[str, Any], Path], dict[str, Any]]] = {
    "memory": _memory,
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
