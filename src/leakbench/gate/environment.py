"""The environment fingerprint stored with every results file.

Memory numbers depend on the Python minor version, the platform and how memray traces
(they are compared whenever the :func:`environment_key` matches); time numbers also depend
on the CPU, so ``Environment.time_comparable`` checks more. The lock hash and git commit are
recorded so a report can say what changed between two runs.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

from leakbench.gate.git import head_state, lock_hash
from leakbench.gate.results import Environment

MEMRAY_MODE = "pyalloc"
"""memray runs with ``trace_python_allocators=True`` (see ``leakbench.gate.measure.memory``)."""

__all__ = ["MEMRAY_MODE", "environment_key", "fingerprint"]


def environment_key(
    python: tuple[int, int] | None = None,
    plat: str | None = None,
    machine: str | None = None,
    memray_mode: str = MEMRAY_MODE,
) -> str:
    """``py3.11-linux-x86_64-pyalloc``: the baseline file name for this environment."""
    major, minor = python or sys.version_info[:2]
    plat = plat or sys.platform
    machine = (machine or platform.machine() or "unknown").lower()
    return f"py{major}.{minor}-{plat}-{machine}-{memray_mode}"


def fingerprint(root: Path | None = None) -> Environment:
    """Describe this interpreter, machine, lock file and git checkout (``root``: the repo)."""
    root = root or Path.cwd()
    commit, dirty = head_state(root)
    return Environment(
        python_version=platform.python_version(),
        implementation=platform.python_implementation(),
        platform=sys.platform,
        machine=platform.machine().lower() or "unknown",
        cpu_model=_cpu_model(),
        cpu_count=os.cpu_count() or 1,
        lock_hash=lock_hash(root),
        memray_mode=MEMRAY_MODE,
        git_commit=commit,
        git_dirty=dirty,
        key=environment_key(),
    )


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
