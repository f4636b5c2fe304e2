"""The memory pass's child process: ``python -m leakbench.gate.measure.worker CONFIG_JSON``.

:func:`run_memory_pass` (parent side) starts it; :func:`main` (child side) discovers the
scenario, measures it with ``leakbench.gate.measure.memory.measure`` and writes the
``MemoryResult`` as JSON to the file named in the config. The child ends with ``os._exit`` so
that threads a leaky scenario left running cannot keep it alive.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import traceback
from dataclasses import asdict
from pathlib import Path

from leakbench.gate.measure.child import MeasurementError, run_child
from leakbench.gate.results import MemoryResult, memory_from_dict, write_json_atomic

DEFAULT_WARMUP = 2


def run_memory_pass(
    name: str,
    *,
    suites: str,
    root: Path,
    iterations: int,
    capture: Path | None,
    warmup: int = DEFAULT_WARMUP,
    timeout: float = 300.0,
    cpu: int | None = None,
) -> MemoryResult:
    """Measure scenario ``name`` in a fresh process; ``capture=None`` deletes the capture."""
    with tempfile.TemporaryDirectory(prefix="leakbench-mem-") as tmp:
        out = Path(tmp) / "memory.json"
        config = {
            "scenario": name,
            "suites": suites,
            "root": str(root),
            "iterations": iterations,
            "warmup": warmup,
            "capture": str(capture or Path(tmp) / "capture.bin"),
            "keep_capture": capture is not None,
            "out": str(out),
        }
        what = f"memory pass of {name}"
        run_child(
            ["-m", "leakbench.gate.measure.worker", json.dumps(config)],
            cwd=root,
            timeout=timeout,
            what=what,
            cpu=cpu,
        )
        try:
            doc = json.loads(out.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise MeasurementError(f"{what}: no result written ({exc})") from None
        return memory_from_dict(doc, out)


def main(argv: list[str] | None = None) -> None:
    """Child entry point; exits 0 after writing the result, 1 with a traceback otherwise."""
    args = sys.argv[1:] if argv is None else argv
    code = 1
    try:
        config = json.loads(args[0])
        root = Path(config["root"])
        # Imported here so the parent never pays for the scenario imports.
        from leakbench.gate.measure.memory import measure
        from leakbench.gate.scenarios import discover

        scenario = discover(config["suites"], root)[config["scenario"]]
        with scenario.session() as iteration:
            result = measure(
                iteration,
                iterations=int(config["iterations"]),
                warmup=int(config["warmup"]),
                capture=Path(config["capture"]),
                root=root,
                keep_capture=bool(config["keep_capture"]),
            )
        write_json_atomic(config["out"], asdict(result))
        code = 0
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    main()
