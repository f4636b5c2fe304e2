"""A user's project outside this checkout, with its own virtual environment holding the
leakbench wheel built from this checkout (for ``test_end_to_end_project.py``; no tests here).

The project's venv must not download or install leakbench's large dependencies again
(memray, pytest-benchmark, rich...): it sees this checkout's ``.venv`` site-packages through
a ``.pth`` file, but through a *view* of it (a folder of symlinks) that leaves out leakbench's
own distribution and its editable-install hook. Otherwise pip would find leakbench already
"installed" there, and ``import leakbench`` could resolve to this checkout's ``src/`` instead
of the wheel the test means to prove.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MAIN_SITE = Path(sysconfig.get_paths()["purelib"])
"""This checkout's venv site-packages (where pytest runs from)."""
OWN_ENTRIES = ("leakbench", "_leakbench", "_editable_impl_leakbench", "__editable__")
"""Names in site-packages that belong to this checkout's editable leakbench install."""


def run(
    args: list[str] | tuple[str, ...],
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """``args`` in ``cwd``, output captured as text (never raises on a non-zero exit)."""
    return subprocess.run(
        list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def build_wheel(out: Path) -> Path:
    """The leakbench wheel of this checkout, built without network or build isolation."""
    proc = run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         str(REPO), "-w", str(out)],
        cwd=REPO,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = out.glob("leakbench-*.whl")
    return wheel


def site_view(folder: Path) -> Path:
    """A folder of symlinks to every entry of :data:`MAIN_SITE` but leakbench's own."""
    folder.mkdir(parents=True)
    for entry in MAIN_SITE.iterdir():
        if entry.name.startswith(OWN_ENTRIES) or entry.suffix == ".pth":
            continue
        (folder / entry.name).symlink_to(entry)
    return folder


def make_venv(where: Path, wheel: Path) -> Path:
    """A venv at ``where`` (without pip of its own) that sees the main venv's third-party
    packages through :func:`site_view` and has ``wheel`` installed; returns its ``bin``."""
    proc = run([sys.executable, "-m", "venv", "--without-pip", str(where)], cwd=where.parent)
    assert proc.returncode == 0, proc.stderr
    python = where / "bin" / "python"
    site = Path(
        run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            cwd=where).stdout.strip()
    )  # fmt: skip
    view = site_view(where / "main-site-view")
    (site / "_main_venv_view.pth").write_text(f"{view}\n", encoding="utf-8")
    proc = run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        cwd=where,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return where / "bin"


def project_env(bin_dir: Path) -> dict[str, str]:
    """The environment of a command run "in the project": its venv first on PATH, nothing of
    this run's pytest, leakbench or Python path settings, a fixed git identity."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "LEAKBENCH_", "PYTHONPATH", "VIRTUAL_ENV", "COV_"))
    }
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=str(bin_dir.parent),
        COLUMNS="200",
        GIT_AUTHOR_NAME="Test",
        GIT_AUTHOR_EMAIL="test@example.invalid",
        GIT_COMMITTER_NAME="Test",
        GIT_COMMITTER_EMAIL="test@example.invalid",
    )
    return env


def write_files(root: Path, files: dict[str, str]) -> None:
    """Write ``files`` (relative path -> text) under ``root``."""
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


CACHE_PY = '''\
"""A tiny shop module: a key cache and a cart total."""

_SEEN: list[bytes] = []


def remember(key: int) -> dict[int, int]:
    return {key: key * 2}


def total(items: range) -> int:
    return sum(i * i for i in items)
'''
MEMORY_REGRESSION = (
    "    return {key: key * 2}\n",
    "    _SEEN.append(bytes(16384))\n    return {key: key * 2}\n",
)
"""``(old, new)`` of ``shop/cache.py``: every call keeps 16 KiB."""
INSTRUCTION_REGRESSION = (
    "    return sum(i * i for i in items)\n",
    "    return sum(i * i for _ in range(20) for i in items)\n",
)
"""``(old, new)`` of ``shop/cache.py``: 20 times the work per call."""

PROJECT_FILES = {
    "shop/__init__.py": "",
    "shop/cache.py": CACHE_PY,
    "workloads/__init__.py": "",
    "workloads/shop_scenarios.py": """\
from collections.abc import Iterator
from contextlib import contextmanager

from leakbench import Iteration, Scenario
from shop.cache import remember, total


@contextmanager
def remembering() -> Iterator[Iteration]:
    count = 0

    def iteration() -> None:
        nonlocal count
        count += 1
        remember(count)

    yield iteration


@contextmanager
def totals() -> Iterator[Iteration]:
    def iteration() -> None:
        total(range(300))

    yield iteration


SCENARIOS = [
    Scenario(name="cache.remember", session=remembering, bench_iterations=20,
             instruction_iterations=5, time_max_iterations=50),
    Scenario(name="cart.total", session=totals, bench_iterations=20,
             instruction_iterations=5, time_max_iterations=50),
]
""",
    "tests/test_cache.py": """\
from shop.cache import remember, total


def test_remember() -> None:
    assert remember(2) == {2: 4}


def test_total() -> None:
    assert total(range(3)) == 5
""",
    "pyproject.toml": """\
[project]
name = "shop"
version = "0.1.0"

[tool.leakbench]
suites = "workloads"
memory_budget = 0.20
time_budget = 0.10
""",
    ".gitignore": ".leakbench/\n__pycache__/\n",
}
PLANTED_LEAK = """\
import threading


def test_leaves_a_thread_waiting() -> None:
    threading.Thread(target=threading.Event().wait, daemon=True).start()
"""
