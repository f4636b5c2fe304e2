"""memray flame graphs of where a scenario's retained bytes were allocated.

``leakbench bench`` keeps the memray capture of each scenario's tracked run
(``.leakbench/captures/<safe name>.bin``, ``leakbench._util.safe_names``). For the scenarios
a reader needs to chase (leaking or regressed), the HTML report runs ``memray flamegraph
--leaks --no-web`` on that capture and links the result: memray already draws the best
picture of "who allocated what is still alive", so leakbench hands it over instead of
redrawing stack traces. ``--no-web`` inlines memray's assets, so the flame graph works
offline and as a CI artifact like the report. Each graph's file name is the same safe
encoding of the scenario's name, so a name such as ``../x`` or a node id with ``/`` still
gets its file, inside ``flamegraphs/``.

Nothing here may fail the report: a missing or stale capture, a memray error or a timeout
becomes a note shown instead of the link.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from leakbench._util.safe_names import safe_file_name

__all__ = ["TIMEOUT", "FlameGraph", "command", "generate"]

TIMEOUT = 180.0
"""Seconds per flame graph; large captures (10 MB) take a few seconds, so this is generous."""


@dataclass(frozen=True)
class FlameGraph:
    """The outcome for one scenario: an HTML file, or why there is none."""

    path: Path | None
    note: str = ""


def command(capture: Path, out: Path) -> list[str]:
    """The memray invocation (the running interpreter's memray, so the venv's is used)."""
    return [
        sys.executable,
        "-m",
        "memray",
        "flamegraph",
        "--leaks",
        "--no-web",
        "--force",
        "-o",
        str(out),
        str(capture),
    ]


def path_for(name: str, out_dir: Path) -> Path:
    """Where ``name``'s flame graph is written in ``out_dir`` (a name is never a path)."""
    return out_dir / safe_file_name(name, ".html")


def _one(name: str, capture: str | None, out_dir: Path, created: datetime | None) -> FlameGraph:
    if not capture:
        return FlameGraph(None, "no memray capture recorded for this scenario")
    source = Path(capture)
    if not source.is_file():
        return FlameGraph(None, f"capture {capture} is missing (re-run `leakbench bench`)")
    if created is not None and source.stat().st_mtime < created.timestamp() - 1:
        return FlameGraph(None, f"capture {capture} predates these results (an older run)")
    out = path_for(name, out_dir)
    try:
        done = subprocess.run(
            command(source, out),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return FlameGraph(None, f"memray flamegraph timed out after {TIMEOUT:g} s")
    except OSError as exc:
        return FlameGraph(None, f"cannot run memray ({exc})")
    if done.returncode != 0 or not out.is_file():
        lines = (done.stderr or done.stdout).strip().splitlines()
        why = lines[-1] if lines else f"exit code {done.returncode}"
        return FlameGraph(None, f"memray flamegraph failed: {why}")
    return FlameGraph(out)


def generate(
    captures: Mapping[str, str | None],
    out_dir: Path,
    created: str | None = None,
    jobs: int = 4,
) -> dict[str, FlameGraph]:
    """Flame graphs ``out_dir/<safe name>.html`` for each ``scenario -> capture path``.

    ``created`` (the results' ISO timestamp) detects a capture left by an older run, whose
    flame graph would describe other code. Runs ``jobs`` memray processes at once: each is
    single-threaded and mostly parses the capture.
    """
    if not captures:
        return {}
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # e.g. a file where the directory should be: a note, not a crash
        return {name: FlameGraph(None, f"cannot create {out_dir} ({exc})") for name in captures}
    when: datetime | None = None
    if created:
        try:
            when = datetime.fromisoformat(created)
        except ValueError:
            when = None
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {
            name: pool.submit(_one, name, capture, out_dir, when)
            for name, capture in captures.items()
        }
        return {name: future.result() for name, future in futures.items()}
