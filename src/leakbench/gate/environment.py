"""The environment fingerprint stored with every results file.

Memory numbers depend on the Python minor version, the platform and how memray traces
(they are compared whenever the :func:`environment_key` matches); time numbers also depend
on the CPU, so ``Environment.time_comparable`` checks more. The lock hash and git commit are
recorded so a report can say what changed between two runs.

``git_dirty`` says the numbers may not come from the recorded commit: tracked files differ
from it, or (given the scenarios package) that package holds files git does not track yet
(a new scenario module is measured, so results without the label would claim a commit that
does not have it). Ignored files (``__pycache__``) do not count.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

from leakbench.gate.git import head_state, lock_hash
from leakbench.gate.results import Environment

MEMRAY_MODE = "pyalloc"
"""memray runs with ``trace_python_allocators=True`` (see ``leakbench.gate.measure.memory``)."""

__all__ = ["MEMRAY_MODE", "environment_key", "fingerprint", "untracked_files"]


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


def fingerprint(root: Path | None = None, suites: str | None = None) -> Environment:
    """Describe this interpreter, machine, lock file and git checkout (``root``: the repo);
    ``suites``: the scenarios package measured, whose untracked files make the run dirty."""
    root = root or Path.cwd()
    commit, dirty = head_state(root)
    if commit and not dirty and suites:
        dirty = untracked_files(root, root.joinpath(*suites.split(".")))
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


def untracked_files(root: Path, folder: Path) -> bool:
    """Whether ``folder`` (inside the checkout at ``root``) holds files git neither tracks
    nor ignores; False when it cannot tell (no folder, no git), as a fingerprint never fails."""
    if not folder.is_dir():
        return False
    try:
        done = subprocess.run(
            ["git", "ls-files", "--others", "--exclude-standard", "-z", "--", str(folder)],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0 and bool(done.stdout.strip("\0"))


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
