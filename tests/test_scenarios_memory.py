"""Retained memory grows per iteration for leaky scenarios and stays flat for clean ones.

Each scenario is measured in its own fresh interpreter (this file run as a
script): leaky scenarios leave threads, sockets and zombies behind, which must not
pile up in the test worker, and a fresh process makes the numbers repeatable.

Retained bytes are measured twice after a ``gc.collect()``: Python objects with
``tracemalloc`` (exact, insensitive to pymalloc arenas) and native heap in use
with glibc's ``mallinfo2()`` (chromadb keeps its state in Rust, invisible to
tracemalloc). RSS is not used: allocators keep freed pages, so it drifts by MBs
on clean runs. Growth per iteration is taken between ``N`` and ``2N`` iterations
after a warm-up, so first-call caches and lazily built state do not count.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import json
import logging
import subprocess
import sys
import tracemalloc
import warnings
from pathlib import Path
from typing import Any

import pytest

from leakbench.gate.scenarios import Scenario, discover

REPO = Path(__file__).resolve().parent.parent

# Iterations: enough that allocator noise (~10-30 KB in total) is small per
# iteration, few enough to stay fast. Chroma leaks MBs per client and imports slowly.
ITERATIONS = {"chroma": 6, "mocks.leaky.history": 10, "mocks.clean.history": 10, "httpx": 30}
DEFAULT_ITERATIONS = 40
WARMUP = 6  # saturates the clean learning engine's bounded cache and history

# A leaky variant must retain more than this per iteration (Python or native heap)...
LEAK_THRESHOLD = 4096
# ...and a clean one less than this, in both (half the threshold: a clear gap).
CLEAN_FLOOR = 2048
# Chroma works in MBs of native memory and runs few iterations, so its allocator
# noise per iteration is larger (~5 KB at N=6): its bounds are scaled to its leak
# (~4 MB per client), still a 16x gap.
SCALED_BOUNDS = {"chroma": (1024 * 1024, 64 * 1024)}


_MALLINFO2_FIELDS = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in _MALLINFO2_FIELDS.split()]


def _native_in_use() -> int:
    """Bytes glibc malloc has handed out and not got back (arenas + mmapped blocks)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    if not hasattr(libc, "mallinfo2"):
        return 0
    libc.mallinfo2.restype = _MallInfo2
    info = libc.mallinfo2()
    return int(info.uordblks + info.hblkhd)


def _retained() -> tuple[int, int]:
    gc.collect()
    gc.collect()
    return tracemalloc.get_traced_memory()[0], _native_in_use()


def measure(name: str, n: int, warmup: int = WARMUP) -> dict[str, Any]:
    """Run ``warmup`` + 2N iterations of one scenario; growth per iteration from N to 2N."""
    warnings.simplefilter("ignore", ResourceWarning)  # intentionally provoked by leaky ones
    logging.disable(logging.CRITICAL)  # the swallowed cleanup errors are logged per iteration
    scenario = discover(root=REPO)[name]
    with scenario.session() as iteration:
        for _ in range(warmup):
            iteration()
        tracemalloc.start()
        for _ in range(n):
            iteration()
        py_n, native_n = _retained()
        for _ in range(n):
            iteration()
        py_2n, native_2n = _retained()
        tracemalloc.stop()
    return {
        "name": name,
        "n": n,
        "python_per_iteration": (py_2n - py_n) / n,
        "native_per_iteration": (native_2n - native_n) / n,
    }


def run_measure(name: str, n: int) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, name, str(n)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, f"measuring {name} failed:\n{proc.stdout}\n{proc.stderr}"
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


SCENARIOS = discover(root=REPO)
MEMORY_CLASSES = sorted({s.leak_class for s in SCENARIOS.values() if s.leaks_memory})


def _iterations(scenario: Scenario) -> int:
    return ITERATIONS.get(scenario.name, ITERATIONS.get(scenario.leak_class, DEFAULT_ITERATIONS))


def _pick(variant: str) -> list[Scenario]:
    return [
        s
        for s in SCENARIOS.values()
        if s.leak_class in MEMORY_CLASSES
        and s.variant == variant
        and (variant == "clean" or s.leaks_memory)
    ]


@pytest.mark.parametrize("scenario", _pick("leaky"), ids=lambda s: s.name)
def test_leaky_scenario_retains_memory_per_iteration(scenario: Scenario) -> None:
    result = run_measure(scenario.name, _iterations(scenario))
    growth = max(result["python_per_iteration"], result["native_per_iteration"])
    threshold, _ = SCALED_BOUNDS.get(scenario.leak_class, (LEAK_THRESHOLD, CLEAN_FLOOR))
    assert growth > threshold, f"{scenario.name} retained too little to be a leak: {result}"


@pytest.mark.parametrize("scenario", _pick("clean"), ids=lambda s: s.name)
def test_clean_scenario_stays_flat(scenario: Scenario) -> None:
    result = run_measure(scenario.name, _iterations(scenario))
    _, floor = SCALED_BOUNDS.get(scenario.leak_class, (LEAK_THRESHOLD, CLEAN_FLOOR))
    assert result["python_per_iteration"] < floor, result
    assert result["native_per_iteration"] < floor, result


def test_every_memory_class_has_a_clean_twin() -> None:
    """A leaky variant is only meaningful next to the clean one it is compared with."""
    for leak_class in MEMORY_CLASSES:
        assert any(s.leak_class == leak_class for s in _pick("clean")), leak_class


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], int(sys.argv[2]))))
