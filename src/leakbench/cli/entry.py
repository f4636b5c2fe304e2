"""The console script ``leakbench`` and ``python -m leakbench``: the gate's extra, checked first.

``pip install leakbench`` installs the pytest plugin alone (pytest, psutil, pympler); the
gate's commands need the ``bench`` extra (memray, pytest-benchmark, click, rich). Without it,
importing ``leakbench.cli.main`` would end in a traceback about click. This module imports
nothing of the extra: it looks the modules up without importing them and, when one is
missing, says in one line what to install and exits 2 (bad input, never 1: exit 1 means a
regression to a CI job).

Importing the extra takes a moment, and a Ctrl-C in it arrives before the group in
``leakbench.cli.main`` (which ends every later interrupt) exists: :func:`main` ends it the
same way, one ``leakbench: interrupted`` line and exit 130, never a ``KeyboardInterrupt``
traceback and exit -2. That line is written without click, which may be what was importing.
"""

from __future__ import annotations

import importlib.util
import sys

from leakbench._util.signals import INTERRUPT_EXIT, ignore_further_interrupts, test_pause

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
    """Run the ``leakbench`` command line, or exit 2 with one line naming the extra; a Ctrl-C
    before the command's own handling takes over exits 130 with one line."""
    try:
        _run()
    except KeyboardInterrupt:
        ignore_further_interrupts()  # a second Ctrl-C changes nothing
        sys.stderr.write("leakbench: interrupted\n")
        raise SystemExit(INTERRUPT_EXIT) from None


def _run() -> None:
    test_pause("entry-imports")  # tests/test_cli_import_interrupt.py stops a real start here
    missing = missing_modules()
    if missing:
        sys.stderr.write(
            f"leakbench: error: the leakbench command needs the bench extra "
            f"(missing: {', '.join(missing)}); install it with {INSTALL_HINT}\n"
        )
        raise SystemExit(2)
    from leakbench.cli.main import main as run

    run()
