"""Install size of the plugin alone (``pip install leakbench``) and with the gate's extra.

Why: the plugin goes into other projects' test environments, where every megabyte and every
extra pytest plugin is paid on each CI run; the gate's dependencies (memray, pytest-benchmark,
click, rich) are for the machine that gates. This measures what each install adds.

How: the wheel is built from this checkout with ``.venv``'s hatchling; three fresh venvs are
made in a temporary folder (empty, ``pip install WHEEL``, ``pip install 'WHEEL[bench]'``, with
the versions the package index serves now, not the lock), and the size of each site-packages
(``du -sm``-style, in MiB of allocated blocks) minus the empty venv's is printed, with the
distributions each install added.

    .venv/bin/python bench/install_size.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = os.environ.get("PYTHON", "python3")


def _run(*args: str | Path) -> str:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"install_size: {' '.join(map(str, args))} failed:\n{done.stderr.strip()}")
    return done.stdout


def _site_packages(venv: Path) -> Path:
    version = sysconfig.get_python_version()
    return venv / "lib" / f"python{version}" / "site-packages"


def _mib(folder: Path) -> float:
    """Allocated size, as ``du`` counts it (blocks of 512 bytes), of every file below."""
    blocks = 0
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            blocks += path.stat().st_blocks
    return blocks * 512 / 2**20


def _distributions(venv: Path) -> set[str]:
    out = _run(venv / "bin" / "python", "-m", "pip", "list", "--format=freeze")
    return {line.split("==")[0].lower() for line in out.splitlines() if "==" in line}


def _venv(where: Path, name: str, *requirements: str) -> Path:
    venv = where / name
    _run(PYTHON, "-m", "venv", venv)
    if requirements:
        _run(venv / "bin" / "python", "-m", "pip", "install", "--quiet", *requirements)
    return venv


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="leakbench-size-") as tmp:
        where = Path(tmp)
        _run(ROOT / ".venv" / "bin" / "python", "-m", "hatchling", "build", "-t", "wheel",
             "-d", where / "dist")  # fmt: skip
        wheel = next((where / "dist").glob("leakbench-*.whl"))
        empty = _venv(where, "empty")
        plugin = _venv(where, "plugin", str(wheel))
        bench = _venv(where, "bench", f"{wheel}[bench]")
        base = _mib(_site_packages(empty))
        known = _distributions(empty)
        print(f"install size over an empty venv (Python {sysconfig.get_python_version()})")
        for label, venv in (("pip install leakbench", plugin), ("leakbench[bench]", bench)):
            size = _mib(_site_packages(venv)) - base
            added = sorted(_distributions(venv) - known)
            print(f"{label:24} {size:7.1f} MiB  {len(added):2} distributions: {', '.join(added)}")


if __name__ == "__main__":
    main()
