"""The console script ``leakbench`` and ``python -m leakbench``: the gate's extra, checked first.

``pip install leakbench`` installs the pytest plugin alone (pytest, psutil, pympler); the
gate's commands need the ``bench`` extra (memray, pytest-benchmark, click, rich). Without it,
importing ``leakbench.cli.main`` would end in a traceback about click. This module imports
nothing of the extra: it looks the modules up without importing them and, when one is
missing, says in one line what to install and exits 2 (bad input, never 1: exit 1 means a
regression to a CI job).
"""

from __future__ import annotations

import importlib.util
import sys

__all__ = ["EXTRA_MODULES", "INSTALL_HINT", "main", "missing_modules"]

EXTRA_MODULES: dict[str, str] = {
    "click": "click",
    "rich": "rich",
    "memray": "memray",
    "pytest_benchmark": "pytest-benchmark",
}
"""Top-level module -> its distribution, for every dependency of the ``bench`` extra."""

INSTALL_HINT = "pip install 'leakbench[bench]'"


def missing_modules() -> list[str]:
    """The distributions of the ``bench`` extra whose modules cannot be found, in order."""
    missing = []
    for module, distribution in EXTRA_MODULES.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a broken or half-removed install
            found = False
        if not found:
            missing.append(distribution)
    return missing


def main() -> None:
    """Run the ``leakbench`` command line, or exit 2 with one line naming the extra."""
    missing = missing_modules()
    if missing:
        sys.stderr.write(
            f"leakbench: error: the leakbench command needs the bench extra "
            f"(missing: {', '.join(missing)}); install it with {INSTALL_HINT}\n"
        )
        raise SystemExit(2)
    from leakbench.cli.main import main as run

    run()
