"""The console script answers --version and --help without a project around it."""

from __future__ import annotations

import subprocess
import sys

from leakbench import __version__


def test_version_prints_the_package_version() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "leakbench", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == f"leakbench, version {__version__}"


def test_help_lists_the_subcommands() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "leakbench", "--help"], capture_output=True, text=True, check=True
    )
    for name in ("bench", "compare", "baseline"):
        assert name in out.stdout
