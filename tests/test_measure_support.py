"""A tiny scenario package for the measurement tests (no tests here).

Written into a temp directory so that the tests do not depend on the real suites, and so
that each test knows exactly what its scenarios allocate.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DEMO_PACKAGE = "leakbench_demo_suites"
LEAK_BYTES = 10 * 1024

_MODULE = '''\
"""Demo scenarios: one retains LEAK_BYTES per iteration, one churns and frees everything."""
import json
import threading
from contextlib import contextmanager

from leakbench.gate.scenarios import Scenario

LEAK_BYTES = {leak}
HELD = []


def _churn():
    json.dumps({{"a": [str(i) * 3 for i in range(500)]}})


@contextmanager
def _leaky():
    def iteration():
        HELD.append(bytearray(LEAK_BYTES))  # the leaking line
        _churn()

    yield iteration


@contextmanager
def _clean():
    yield _churn


@contextmanager
def _broken():
    def iteration():
        raise RuntimeError("the demo scenario broke")

    yield iteration


@contextmanager
def _stuck():
    def iteration():
        # A non-daemon thread that never ends: the child must still exit.
        threading.Thread(target=threading.Event().wait, name="stuck").start()

    yield iteration


SCENARIOS = [
    Scenario("grow.leaky", "grow", "leaky", (), _leaky, leaks_memory=True, bench_iterations=8),
    Scenario("grow.clean", "grow", "clean", (), _clean, bench_iterations=8),
    Scenario("broken.clean", "broken", "clean", (), _broken),
    Scenario("stuck.leaky", "stuck", "leaky", (), _stuck, bench_iterations=4,
             time_max_iterations=20),
]
'''


def write_demo_suite(root: Path) -> str:
    """Create the demo package under ``root``; return its import name."""
    package = root / DEMO_PACKAGE
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "demo.py").write_text(_MODULE.format(leak=LEAK_BYTES))
    return DEMO_PACKAGE


WORK_PACKAGE = "leakbench_work_suites"

_WORK_MODULE = '''\
"""A CPU-bound scenario with a work knob, for the instruction pass's tests."""
import time
from contextlib import contextmanager

from leakbench.gate.scenarios import Scenario

WORK = {work}
PAUSE = {pause}


def _spin():
    s = 0
    for i in range(WORK):
        s = (s + i * 7) % 65521  # the same cost per step, whatever WORK is
    if PAUSE:
        time.sleep(PAUSE)


@contextmanager
def _session():
    yield _spin


SCENARIOS = [
    Scenario("work.clean", "work", "clean", (), _session, bench_iterations=4,
             instruction_iterations=5),
]
'''


def write_work_suite(root: Path, work: int = 2000, pause: float = 0.0) -> str:
    """Create (or rewrite) the work-knob package under ``root``; return its import name."""
    package = root / WORK_PACKAGE
    package.mkdir(exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / "work.py").write_text(_WORK_MODULE.format(work=work, pause=pause))
    return WORK_PACKAGE


def write_memray_capture(path: Path, blocks: int = 50) -> Path:
    """A real memray capture at ``path``: ``blocks`` 4 KiB allocations kept alive."""
    code = (
        "import memray, sys\n"
        "keep = []\n"
        "with memray.Tracker(sys.argv[1], trace_python_allocators=True):\n"
        f"    keep.extend(bytearray(4096) for _ in range({blocks}))\n"
    )
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, timeout=120)
    return path
